"""Locating a call on the network: account number, pole number, phone position, address."""
