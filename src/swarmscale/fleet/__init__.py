"""What to buy: fleet optimisation under sourcing policies (MILP with HiGHS)."""
