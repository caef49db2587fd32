"""Another namespace package of the program's own."""

LOCATION = "westeurope"
