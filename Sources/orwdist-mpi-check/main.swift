import ORWDist
// Filled in by the foundation tests.
print("orwdist-mpi-check")
