"""Design-space scans on Ray Tune: every trial is the whole chain (QAT, export, bit-exact
verification, firmware cost, physics on firmware outputs); the result is a Pareto front."""
