"""Tables, plots and documents built from results; no computation of predictions here."""
