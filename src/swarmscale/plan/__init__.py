"""Plan search: enumerate parallel plans for one job on one cluster and rank them."""
