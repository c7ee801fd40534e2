// Raw MPI_Allreduce of a float buffer, the floor for orwdist's gradient allreduce: the same
// count, in place, MPI_SUM, on a duplicate of MPI_COMM_WORLD (as orwdist's communicator).
//
//   mpicc -O2 bench/allreduce.c -o allreduce && mpirun -n 2 ./allreduce COUNT [REPETITIONS]
//
// Prints one JSON object (rank 0): the median and minimum seconds per allreduce.
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    if (argc < 2) {
        fprintf(stderr, "usage: allreduce COUNT [REPETITIONS]\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    long count = atol(argv[1]);
    int repetitions = argc > 2 ? atoi(argv[2]) : 50;
    MPI_Comm comm;
    MPI_Comm_dup(MPI_COMM_WORLD, &comm);
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    float *buffer = malloc(sizeof(float) * (size_t)count);
    for (long i = 0; i < count; i++) buffer[i] = (float)(i % 13) * 1e-3f;
    double *seconds = malloc(sizeof(double) * (size_t)repetitions);
    for (int r = -5; r < repetitions; r++) {
        MPI_Barrier(comm);
        double start = MPI_Wtime();
        MPI_Allreduce(MPI_IN_PLACE, buffer, (int)count, MPI_FLOAT, MPI_SUM, comm);
        double elapsed = MPI_Wtime() - start;
        if (r >= 0) seconds[r] = elapsed;
    }
    // A rank's time depends on when the others arrive: take the slowest rank's per repetition.
    MPI_Allreduce(MPI_IN_PLACE, seconds, repetitions, MPI_DOUBLE, MPI_MAX, comm);
    qsort(seconds, (size_t)repetitions, sizeof(double), compare);
    if (rank == 0)
        printf("{\"ranks\": %d, \"count\": %ld, \"median_seconds\": %.9f, \"min_seconds\": %.9f}\n",
               size, count, seconds[repetitions / 2], seconds[0]);
    free(buffer);
    free(seconds);
    MPI_Comm_free(&comm);
    MPI_Finalize();
    return 0;
}
