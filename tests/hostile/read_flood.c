/* Opens and reads PATH COUNT times, as fast as it can; prints how many opens or reads
 * failed, by errno. A hostile container's flood, for tests/hostile. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char** argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: read_flood PATH COUNT\n");
        return 2;
    }
    long count = strtol(argv[2], NULL, 10);
    long failed = 0;
    int last_errno = 0;
    char buf[4096];
    for (long i = 0; i < count; ++i) {
        int fd = open(argv[1], O_RDONLY);
        if (fd < 0 || read(fd, buf, sizeof buf) < 0) {
            ++failed;
            last_errno = errno;
        }
        if (fd >= 0) close(fd);
    }
    printf("%ld of %ld failed (%s)\n", failed, count, failed ? strerror(last_errno) : "-");
    return 0;
}
