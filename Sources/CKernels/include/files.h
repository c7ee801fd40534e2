// File-system calls that Glibc does not export to Swift. Not a kernel: it lives here because
// CKernels is the project's C target without MPI.
#ifndef ORW_FILES_H
#define ORW_FILES_H

#ifdef __cplusplus
extern "C" {
#endif

/// Swaps the directory entries `a` and `b` in one step (renameat2 with RENAME_EXCHANGE): both
/// must exist, and at every moment each name refers to one of the two. Returns 0, or -1 with
/// errno set (EINVAL or ENOSYS where the file system or kernel cannot exchange, e.g. NFS).
int orw_rename_exchange(const char *a, const char *b);

#ifdef __cplusplus
}
#endif

#endif
