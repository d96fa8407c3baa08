"""`python -m swarmscale` runs the CLI."""

from swarmscale.cli import main

main()
