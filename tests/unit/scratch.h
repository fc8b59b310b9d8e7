/* Scratch files for the unit tests. */
#ifndef ANET_TEST_SCRATCH_H
#define ANET_TEST_SCRATCH_H

/* Removes path and, when it is a directory, everything below it (like rm -rf). */
void t_remove_tree(const char *path);

#endif
