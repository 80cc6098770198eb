#include "sys/helper_spawn.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "sys/fd.hpp"
#include "sys/files.hpp"

using ecifs::sys::Fd;
using ecifs::sys::read_to_end;
using ecifs::sys::spawn_helper;

namespace {

// Puts `fd`'s file at number `at` (close-on-exec) for the test's duration, and gives back
// whatever the test process had there.
class FdAt {
public:
    FdAt(int fd, int at) : at_(at), saved_(::fcntl(at, F_DUPFD_CLOEXEC, 100)) {
        EXPECT_EQ(::dup3(fd, at, O_CLOEXEC), at);
    }
    ~FdAt() {
        if (saved_) ::dup3(saved_.get(), at_, O_CLOEXEC);
        else ::close(at_);
    }
    FdAt(const FdAt&) = delete;
    FdAt& operator=(const FdAt&) = delete;

private:
    int at_;
    Fd saved_;
};

// The test's own descriptors, out of the way of 3 and 4.
Fd high(int fd) {
    Fd moved(::fcntl(fd, F_DUPFD_CLOEXEC, 20));
    ::close(fd);
    return moved;
}

}  // namespace

TEST(HelperSpawn, ChildHasExactlyStdioAndThePassedFds) {
    int pipe_fds[2];
    ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
    Fd reader = high(pipe_fds[0]), writer = high(pipe_fds[1]);
    Fd null = high(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(null);
    // The pipe at 4 goes to 3 and /dev/null at 3 goes to 4: each source is the other's
    // target, so placing them in order without moving them first would lose one.
    FdAt pipe_at_4(writer.get(), 4);
    FdAt null_at_3(null.get(), 3);
    writer.reset();
    // A descriptor the daemon left inheritable (no O_CLOEXEC) must not reach the helper.
    Fd leaky(::open("/dev/zero", O_RDONLY));
    ASSERT_TRUE(leaky);
    const int fds[] = {4, 3};
    const pid_t pid = spawn_helper("/bin/sh", {"-c", "ls /proc/self/fd >&3; readlink /proc/self/fd/4 >&3"}, fds);
    ::close(4);  // FdAt restores it at the end; the child's copy must be the only writer
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    std::string output;
    ASSERT_EQ(read_to_end(reader.get(), output), 0);
    std::istringstream lines(output);
    std::set<std::string> listed;
    std::string line, null_target;
    while (std::getline(lines, line)) {
        if (line.starts_with("/")) null_target = line;
        else listed.insert(line);
    }
    // 0-2 inherited, 3 and 4 passed, 5 the directory ls reads /proc/self/fd through.
    EXPECT_EQ(listed, (std::set<std::string>{"0", "1", "2", "3", "4", "5"})) << output;
    EXPECT_EQ(null_target, "/dev/null");
}
