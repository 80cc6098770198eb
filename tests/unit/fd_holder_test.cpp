// The fd holder (daemon/fd_holder.hpp): each test runs the holder's loop in a forked
// child on a socket of its own, and kills it by pid at the end if it still runs.
// FdHolderSpawn.StartsTheEcifsBinary needs the built binary: set ECIFS_BIN_DIR to the
// build directory (the one holding `ecifs`); without it that test is skipped.
#include "daemon/fd_holder.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "temp_dir.hpp"

namespace {

using namespace std::chrono_literals;
using ecifs::daemon::FdHolder;
using ecifs::sys::Fd;
namespace fs = std::filesystem;

struct Pipe {
    Fd read, write;
    Pipe() {
        int fds[2];
        EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
        read.reset(fds[0]);
        write.reset(fds[1]);
    }
};

bool same_file(int a, int b) {
    struct stat sa{}, sb{};
    return ::fstat(a, &sa) == 0 && ::fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

// Writes through `writer` and reads it back at `reader`.
bool carries(int writer, int reader) {
    if (::write(writer, "x", 1) != 1) return false;
    char c = 0;
    return ::read(reader, &c, 1) == 1 && c == 'x';
}

// True when every writer of the pipe has closed (its read end sees end of file).
bool writers_gone(int reader) {
    pollfd p{reader, POLLIN, 0};
    if (::poll(&p, 1, 2000) != 1) return false;
    char c;
    return ::read(reader, &c, 1) == 0;
}

// A raw connection, for requests FdHolder never sends.
class RawClient {
public:
    explicit RawClient(const fs::path& path) : sock_(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) {
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::strcpy(address.sun_path, path.c_str());
        EXPECT_EQ(::connect(sock_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0) << std::strerror(errno);
    }

    void send(const std::string& text, std::initializer_list<int> fds = {}) {
        iovec iov{const_cast<char*>(text.data()), text.size()};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)] = {};
        if (fds.size() > 0) {
            msg.msg_control = control;
            msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
            cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
            cmsg->cmsg_level = SOL_SOCKET;
            cmsg->cmsg_type = SCM_RIGHTS;
            cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
            std::memcpy(CMSG_DATA(cmsg), fds.begin(), sizeof(int) * fds.size());
        }
        ASSERT_EQ(::sendmsg(sock_.get(), &msg, MSG_NOSIGNAL), static_cast<ssize_t>(text.size()));
    }

    std::string receive() {
        pollfd p{sock_.get(), POLLIN, 0};
        if (::poll(&p, 1, 2000) != 1) return "(no reply)";
        char buf[512];
        const ssize_t n = ::recv(sock_.get(), buf, sizeof buf, 0);
        return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "(closed)";
    }

    std::string ask(const std::string& text, std::initializer_list<int> fds = {}) {
        send(text, fds);
        return receive();
    }

    pid_t peer_pid() const {
        ucred peer{};
        socklen_t size = sizeof peer;
        EXPECT_EQ(::getsockopt(sock_.get(), SOL_SOCKET, SO_PEERCRED, &peer, &size), 0);
        return peer.pid;
    }

private:
    Fd sock_;
};

// Polls for the exit of our child `pid`; returns its status or -1 after 3 s.
int wait_exit(pid_t pid) {
    for (int i = 0; i < 300; ++i) {
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid) return status;
        std::this_thread::sleep_for(10ms);
    }
    return -1;
}

pid_t fork_holder(const fs::path& socket) {
    const pid_t pid = ::fork();
    if (pid == 0) ::_exit(ecifs::daemon::run_fd_holder(socket));
    return pid;
}

// Waits until a holder accepts connections at `socket`.
bool wait_for_holder(const fs::path& socket) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strcpy(address.sun_path, socket.c_str());
    for (int i = 0; i < 300; ++i) {
        Fd probe(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
        if (::connect(probe.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) return true;
        std::this_thread::sleep_for(10ms);
    }
    return false;
}

// Whether `pid` (not our child) still runs: neither gone nor a zombie.
bool running(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return false;
    const std::size_t close = line.rfind(')');
    return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

// The directory of a test without the fixture, removed and its holder ended however
// the test ends.
struct Scratch {
    fs::path dir = ecifs::testing_support::unique_temp_dir("fd-holder");
    pid_t child = -1;    // a holder forked by the test: reaped here
    pid_t spawned = -1;  // a holder started through ecifs: not our child
    Scratch() = default;
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
    ~Scratch() {
        if (child > 0 && ::waitpid(child, nullptr, WNOHANG) == 0) ::kill(child, SIGKILL), ::waitpid(child, nullptr, 0);
        if (spawned > 0 && running(spawned)) ::kill(spawned, SIGKILL);
        fs::remove_all(dir);
    }
};

class FdHolderTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = ecifs::testing_support::unique_temp_dir("fd-holder");
        socket_ = dir_ / "holder.sock";
        pid_ = fork_holder(socket_);
        ASSERT_GT(pid_, 0);
        ASSERT_TRUE(wait_for_holder(socket_));
    }

    void TearDown() override {
        if (pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        fs::remove_all(dir_);
    }

    // The holder ended with status 0 (and is reaped).
    bool exited_cleanly() {
        const int status = wait_exit(pid_);
        if (status == -1) return false;
        pid_ = -1;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }

    FdHolder client() { return FdHolder::connect_or_spawn(socket_, "/nonexistent/ecifs"); }

    fs::path dir_, socket_;
    pid_t pid_ = -1;
};

TEST_F(FdHolderTest, ListGivesBackTheSameOpenFile) {
    Pipe pipe;
    FdHolder holder = client();
    holder.put("fuse:c1", pipe.write.get());
    auto held = holder.list();
    ASSERT_EQ(held.size(), 1U);
    EXPECT_EQ(held[0].first, "fuse:c1");
    EXPECT_TRUE(same_file(held[0].second.get(), pipe.write.get()));
    EXPECT_TRUE(carries(held[0].second.get(), pipe.read.get()));
    EXPECT_EQ(::fcntl(held[0].second.get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    holder.remove("fuse:c1");
}

TEST_F(FdHolderTest, FdsOutliveTheClientThatGaveThem) {
    Pipe pipe;
    {
        FdHolder first = client();
        first.put("notify:c1", pipe.write.get());
        first.put("notify:c1", pipe.write.get());  // replaces: still one
    }  // the "daemon" dies
    pipe.write.reset();
    FdHolder second = client();
    auto held = second.list();
    ASSERT_EQ(held.size(), 1U);
    EXPECT_EQ(held[0].first, "notify:c1");
    EXPECT_TRUE(carries(held[0].second.get(), pipe.read.get()));
    held.clear();
    second.remove("notify:c1");
    EXPECT_TRUE(second.list().empty());
    EXPECT_TRUE(writers_gone(pipe.read.get()));  // the holder closed its copy
    second.remove("notify:c1");                  // absent: still ok
}

// More replies than the socket buffers at once: the holder waits for the reader.
TEST_F(FdHolderTest, ListsManyFds) {
    Pipe pipe;
    FdHolder holder = client();
    for (int i = 0; i < 600; ++i) holder.put("k" + std::to_string(i), pipe.write.get());
    auto held = holder.list();
    ASSERT_EQ(held.size(), 600U);
    for (const auto& [key, fd] : held) EXPECT_TRUE(same_file(fd.get(), pipe.write.get())) << key;
}

TEST_F(FdHolderTest, RefusesMalformedRequestsAndKeepsServing) {
    Pipe pipe;
    Fd other(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    RawClient raw(socket_);
    EXPECT_EQ(raw.ask("put bad/key", {pipe.write.get()}), "error bad key");
    EXPECT_EQ(raw.ask("put " + std::string(256, 'k'), {pipe.write.get()}), "error bad key");
    EXPECT_EQ(raw.ask("put ", {pipe.write.get()}), "error bad key");
    EXPECT_EQ(raw.ask("frob key"), "error unknown request");
    EXPECT_EQ(raw.ask("put key"), "error put without fd");
    EXPECT_EQ(raw.ask("del key", {pipe.write.get()}), "error unexpected fd");
    EXPECT_EQ(raw.ask("put a", {pipe.write.get(), other.get()}), "error more than one fd");
    EXPECT_EQ(raw.ask(std::string(4096, 'x'), {pipe.write.get()}), "error message too long");
    EXPECT_EQ(raw.ask("list extra"), "error unknown request");
    EXPECT_EQ(raw.ask("ping"), "ok");
    EXPECT_EQ(raw.ask("list"), "end");
    pipe.write.reset();
    EXPECT_TRUE(writers_gone(pipe.read.get()));  // every fd that came along was closed

    Pipe kept;
    FdHolder holder = client();
    holder.put("Aa0_.+:=-", kept.write.get());
    EXPECT_THROW(holder.put("bad key", kept.write.get()), std::runtime_error);
    EXPECT_THROW(holder.put("nofd", -1), std::runtime_error);
    ASSERT_EQ(holder.list().size(), 1U);  // still connected after error replies
    holder.remove("Aa0_.+:=-");
}

TEST_F(FdHolderTest, ExitsWhenTheLastClientLeavesWithNothingHeld) {
    Pipe pipe;
    {
        FdHolder holder = client();
        holder.put("k", pipe.write.get());
        holder.remove("k");
        RawClient raw(socket_);
        EXPECT_EQ(raw.ask("ping"), "ok");
    }
    EXPECT_TRUE(exited_cleanly());
    EXPECT_FALSE(fs::exists(socket_));
}

TEST_F(FdHolderTest, StaysWhileItHoldsFds) {
    Pipe pipe;
    client().put("k", pipe.write.get());
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(::waitpid(pid_, nullptr, WNOHANG), 0);
    EXPECT_EQ(client().list().size(), 1U);
}

TEST_F(FdHolderTest, QuitClosesEverythingAndRemovesTheSocket) {
    Pipe pipe;
    FdHolder holder = client();
    holder.put("k", pipe.write.get());
    RawClient bystander(socket_);
    holder.quit();
    EXPECT_FALSE(fs::exists(socket_));
    EXPECT_TRUE(exited_cleanly());
    pipe.write.reset();
    EXPECT_TRUE(writers_gone(pipe.read.get()));
    EXPECT_THROW(holder.list(), std::runtime_error);  // disconnected after quit
}

TEST_F(FdHolderTest, IgnoresTheSignalsThatStopTheDaemon) {
    for (int signal : {SIGTERM, SIGINT, SIGHUP, SIGPIPE}) ASSERT_EQ(::kill(pid_, signal), 0);
    std::this_thread::sleep_for(50ms);
    RawClient raw(socket_);
    EXPECT_EQ(raw.ask("ping"), "ok");
}

TEST_F(FdHolderTest, ASecondHolderLeavesTheFirstServing) {
    const pid_t second = fork_holder(socket_);
    ASSERT_GT(second, 0);
    int status = -1;
    ASSERT_EQ(::waitpid(second, &status, 0), second);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    RawClient raw(socket_);
    EXPECT_EQ(raw.peer_pid(), pid_);
    EXPECT_EQ(raw.ask("ping"), "ok");
}

TEST(FdHolderStart, ReplacesAStaleSocketFile) {
    Scratch scratch;
    const fs::path socket = scratch.dir / "holder.sock";
    {
        Fd dead(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::strcpy(address.sun_path, socket.c_str());
        ASSERT_EQ(::bind(dead.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    }  // a dead holder's file: nobody listens
    const pid_t pid = scratch.child = fork_holder(socket);
    ASSERT_GT(pid, 0);
    ASSERT_TRUE(wait_for_holder(socket));
    EXPECT_EQ(fs::status(socket).permissions(), fs::perms::owner_read | fs::perms::owner_write);  // 0600
    {
        RawClient raw(socket);
        EXPECT_EQ(raw.ask("ping"), "ok");
        EXPECT_EQ(raw.peer_pid(), pid);
    }
    EXPECT_NE(wait_exit(pid), -1);  // its one client left
}

TEST(FdHolderSpawn, ReportsAnExecutableThatCannotRun) {
    Scratch scratch;
    try {
        FdHolder::connect_or_spawn(scratch.dir / "holder.sock", (scratch.dir / "no-such-ecifs").string());
        ADD_FAILURE() << "no exception";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("cannot run"), std::string::npos) << e.what();
    }
}

// The parent pid of `pid` from /proc/PID/stat (0 when it is gone).
pid_t parent_of(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return 0;
    const std::size_t close = line.rfind(')');
    return close == std::string::npos ? 0 : std::atoi(line.c_str() + close + 4);  // ") S PPID"
}

// Nothing of ours leaked into the holder: 0, 1, 2 on /dev/null, else its sockets.
// (Its /proc/PID/fd is root's: the holder is not dumpable. Unreadable: not checked.)
bool only_stdio_and_sockets(pid_t pid) {
    std::error_code error;
    for (const auto& entry : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", error)) {
        const std::string target = fs::read_symlink(entry.path(), error).string();
        const int fd = std::atoi(entry.path().filename().c_str());
        if (error) continue;  // closed meanwhile
        if (fd <= 2 ? target != "/dev/null" : !target.starts_with("socket:")) {
            ADD_FAILURE() << "holder fd " << fd << " -> " << target;
            return false;
        }
    }
    return true;
}

TEST(FdHolderSpawn, StartsTheEcifsBinary) {
    const char* bin_dir = std::getenv("ECIFS_BIN_DIR");
    if (!bin_dir) GTEST_SKIP() << "set ECIFS_BIN_DIR to the directory of the built ecifs";
    Scratch scratch;
    const fs::path socket = scratch.dir / "holder.sock";
    Pipe pipe;
    FdHolder holder = FdHolder::connect_or_spawn(socket, (fs::path(bin_dir) / "ecifs").string());
    const pid_t pid = scratch.spawned = RawClient(socket).peer_pid();
    ASSERT_GT(pid, 0);
    EXPECT_NE(parent_of(pid), ::getpid());     // not our child: nothing of ours to reap
    EXPECT_NE(::getsid(pid), ::getsid(0));     // a session of its own
    EXPECT_TRUE(only_stdio_and_sockets(pid));
    holder.put("k", pipe.write.get());
    pipe.write.reset();
    FdHolder again = FdHolder::connect_or_spawn(socket, "/nonexistent/ecifs");  // it answers: no spawn
    auto held = again.list();
    ASSERT_EQ(held.size(), 1U);
    EXPECT_TRUE(carries(held[0].second.get(), pipe.read.get()));
    held.clear();
    again.quit();
    EXPECT_TRUE(writers_gone(pipe.read.get()));
    EXPECT_FALSE(fs::exists(socket));
    for (int i = 0; i < 300 && running(pid); ++i) std::this_thread::sleep_for(10ms);
    EXPECT_FALSE(running(pid));
}

}  // namespace
