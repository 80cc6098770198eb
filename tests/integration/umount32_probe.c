/* The i386 ABI's umount(2) (syscall 22, which x86_64 lacks), made with `int $0x80` from
 * a static, non-PIE 64-bit program: its path is in the first 4 GiB, where the 32-bit
 * ABI can address it. Prints "ok" or the errno's number and name; exit 0 either way
 * (2 on a usage error). Used by tests/integration/test_trapper.py. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

static char path[4096];

int main(int argc, char** argv) {
    if (argc != 2 || strlen(argv[1]) >= sizeof path) {
        fprintf(stderr, "usage: umount32_probe PATH\n");
        return 2;
    }
    strcpy(path, argv[1]);
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(22L), "b"(path) : "memory");
    if (ret < 0 && ret > -4096) {
        printf("%ld %s\n", -ret, strerror((int)-ret));
    } else {
        printf("ok\n");
    }
    return 0;
}
