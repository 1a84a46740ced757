"""Analyses built on the engines: parameter draws, calibration targets, least-squares and
ABC fits, policy comparison and sensitivity. They import the core; the core never imports
them."""
