#include <cblas.h>

/* LAPACK's dsyev, which libopenblas exports (Debian ships no lapacke header): eigenvalues and,
   with jobz = 'V', eigenvectors of a real symmetric matrix. Fortran calling convention: every
   argument by pointer, the matrix column-major, and the lengths of the two character arguments
   passed last by value (gfortran's hidden arguments). */
void dsyev_(const char *jobz, const char *uplo, const blasint *n, double *a, const blasint *lda,
            double *w, double *work, const blasint *lwork, blasint *info,
            size_t jobz_length, size_t uplo_length);
