#include "control/fd_passing.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <string>

namespace {

using ecifs::control::receive_with_fd;
using ecifs::control::send_with_fd;
using ecifs::sys::Fd;

struct SocketPair {
    Fd a, b;
    SocketPair() {
        int fds[2];
        EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
        a.reset(fds[0]);
        b.reset(fds[1]);
    }
};

ino_t inode_of(int fd) {
    struct stat st{};
    EXPECT_EQ(::fstat(fd, &st), 0);
    return st.st_ino;
}

size_t open_fd_count() {
    size_t n = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
    return n;
}

TEST(FdPassing, DescriptorTravelsWithTheText) {
    SocketPair pair;
    Fd file(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(file);
    ASSERT_EQ(send_with_fd(pair.a.get(), "reply\n", file.get()), 6);
    char buf[16];
    Fd received;
    ASSERT_EQ(receive_with_fd(pair.b.get(), buf, sizeof buf, received), 6);
    EXPECT_EQ(std::string(buf, 6), "reply\n");
    ASSERT_TRUE(received);
    EXPECT_NE(received.get(), file.get());
    EXPECT_EQ(inode_of(received.get()), inode_of(file.get()));
    EXPECT_EQ(::fcntl(received.get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);  // never leaks into an exec
}

TEST(FdPassing, TextAloneCarriesNoDescriptor) {
    SocketPair pair;
    ASSERT_EQ(send_with_fd(pair.a.get(), "x", -1), 1);
    char buf[4];
    Fd received;
    ASSERT_EQ(receive_with_fd(pair.b.get(), buf, sizeof buf, received), 1);
    EXPECT_FALSE(received);
}

TEST(FdPassing, ExtraDescriptorsAreClosed) {
    SocketPair pair;
    Fd one(::open("/dev/null", O_RDONLY | O_CLOEXEC)), two(::open("/", O_RDONLY | O_CLOEXEC));
    int fds[2] = {one.get(), two.get()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof fds)] = {};
    char byte = 'x';
    iovec iov{&byte, 1};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof fds);
    std::memcpy(CMSG_DATA(cmsg), fds, sizeof fds);
    ASSERT_EQ(::sendmsg(pair.a.get(), &msg, 0), 1);

    const size_t open_before = open_fd_count();
    char buf[4];
    Fd received;
    ASSERT_EQ(receive_with_fd(pair.b.get(), buf, sizeof buf, received), 1);
    ASSERT_TRUE(received);
    EXPECT_EQ(inode_of(received.get()), inode_of(one.get()));
    EXPECT_EQ(open_fd_count(), open_before + 1);  // the second one was closed
}

}  // namespace
