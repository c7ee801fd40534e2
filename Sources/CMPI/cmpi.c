// cmpi.c — see include/cmpi.h.
#include "cmpi.h"
#include <mpi.h>
#include <stdio.h>
#include <string.h>

static MPI_Comm world = MPI_COMM_NULL;  // private duplicate of MPI_COMM_WORLD
static MPI_Comm node = MPI_COMM_NULL;   // processes sharing this node's memory
static int initialised_here = 0;        // whether cmpi_init called MPI_Init_thread

// The largest element count one MPI call takes (its count argument is an int).
static const int64_t chunk_limit = INT32_MAX;

int cmpi_init(void) {
    if (world != MPI_COMM_NULL) return MPI_SUCCESS;
    int already = 0;
    int rc = MPI_Initialized(&already);
    if (rc != MPI_SUCCESS) return rc;
    if (!already) {
        int provided = 0;
        rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
        if (rc != MPI_SUCCESS) return rc;
        initialised_here = 1;
    }
    // Errors come back as codes, so Swift can turn them into thrown errors.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    rc = MPI_Comm_dup(MPI_COMM_WORLD, &world);
    if (rc != MPI_SUCCESS) return rc;
    MPI_Comm_set_errhandler(world, MPI_ERRORS_RETURN);
    rc = MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    if (rc != MPI_SUCCESS) return rc;
    MPI_Comm_set_errhandler(node, MPI_ERRORS_RETURN);
    return MPI_SUCCESS;
}

int cmpi_finalize(void) {
    if (node != MPI_COMM_NULL) MPI_Comm_free(&node);
    if (world != MPI_COMM_NULL) MPI_Comm_free(&world);
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (initialised_here && !finalized) {
        initialised_here = 0;
        return MPI_Finalize();
    }
    return MPI_SUCCESS;
}

int cmpi_is_ready(void) { return world != MPI_COMM_NULL; }

int cmpi_rank(int *rank) { return MPI_Comm_rank(world, rank); }
int cmpi_size(int *size) { return MPI_Comm_size(world, size); }
int cmpi_local_rank(int *rank) { return MPI_Comm_rank(node, rank); }
int cmpi_local_size(int *size) { return MPI_Comm_size(node, size); }

// One in-place allreduce, split into int-sized chunks.
static int allreduce(void *buffer, int64_t count, size_t element, MPI_Datatype type, MPI_Op op) {
    char *bytes = (char *)buffer;
    for (int64_t start = 0; start < count; start += chunk_limit) {
        int64_t n = count - start < chunk_limit ? count - start : chunk_limit;
        int rc = MPI_Allreduce(MPI_IN_PLACE, bytes + start * element, (int)n, type, op, world);
        if (rc != MPI_SUCCESS) return rc;
    }
    return MPI_SUCCESS;
}

int cmpi_allreduce_sum_f32(float *b, int64_t n) { return allreduce(b, n, sizeof(float), MPI_FLOAT, MPI_SUM); }
int cmpi_allreduce_sum_f64(double *b, int64_t n) { return allreduce(b, n, sizeof(double), MPI_DOUBLE, MPI_SUM); }
int cmpi_allreduce_max_f32(float *b, int64_t n) { return allreduce(b, n, sizeof(float), MPI_FLOAT, MPI_MAX); }
int cmpi_allreduce_max_f64(double *b, int64_t n) { return allreduce(b, n, sizeof(double), MPI_DOUBLE, MPI_MAX); }
int cmpi_allreduce_min_f64(double *b, int64_t n) { return allreduce(b, n, sizeof(double), MPI_DOUBLE, MPI_MIN); }

int cmpi_broadcast_bytes(void *buffer, int64_t count, int root) {
    char *bytes = (char *)buffer;
    for (int64_t start = 0; start < count; start += chunk_limit) {
        int64_t n = count - start < chunk_limit ? count - start : chunk_limit;
        int rc = MPI_Bcast(bytes + start, (int)n, MPI_BYTE, root, world);
        if (rc != MPI_SUCCESS) return rc;
    }
    return MPI_SUCCESS;
}

int cmpi_gather_bytes(const void *send, void *receive, int64_t count, int root) {
    if (count > chunk_limit) return MPI_ERR_COUNT;
    return MPI_Gather(send, (int)count, MPI_BYTE, receive, (int)count, MPI_BYTE, root, world);
}

int cmpi_allgather_bytes(const void *send, void *receive, int64_t count) {
    if (count > chunk_limit) return MPI_ERR_COUNT;
    return MPI_Allgather(send, (int)count, MPI_BYTE, receive, (int)count, MPI_BYTE, world);
}

int cmpi_barrier(void) { return MPI_Barrier(world); }

int cmpi_abort(int code) {
    return MPI_Abort(world != MPI_COMM_NULL ? world : MPI_COMM_WORLD, code);
}

double cmpi_wtime(void) { return MPI_Wtime(); }

int cmpi_library_version(char *out, int capacity) {
    char text[MPI_MAX_LIBRARY_VERSION_STRING];
    int length = 0;
    int rc = MPI_Get_library_version(text, &length);
    if (rc != MPI_SUCCESS) return rc;
    if (capacity <= 0) return MPI_ERR_ARG;
    int n = length < capacity - 1 ? length : capacity - 1;
    memcpy(out, text, (size_t)n);
    out[n] = 0;
    return MPI_SUCCESS;
}

void cmpi_error_string(int code, char *out, int capacity) {
    if (capacity <= 0) return;
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) {
        snprintf(out, (size_t)capacity, "unknown MPI error code %d", code);
        return;
    }
    int n = length < capacity - 1 ? length : capacity - 1;
    memcpy(out, text, (size_t)n);
    out[n] = 0;
}
