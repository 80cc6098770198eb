// ecifs: the daemon. Parses flags, sets up logging, binds everything (so errors reach
// the shell), detaches unless --foreground, and serves until SIGTERM/SIGINT (which leave
// the containers to the next daemon: docs/restart.md) or `ecifs --stop-all`.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <thread>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "cmd/service.hpp"
#include "control/protocol.hpp"
#include "daemon/daemon.hpp"
#include "daemon/fd_holder.hpp"
#include "ns/executor.hpp"
#include "seccomp/mount_helper.hpp"
#include "ecifs_version.hpp"

namespace {

// Fork, let the parent exit, start a new session, and point stdio at /dev/null.
void detach(boost::asio::io_context& io) {
    io.notify_fork(boost::asio::io_context::fork_prepare);
    pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid > 0) std::_Exit(0);
    io.notify_fork(boost::asio::io_context::fork_child);
    ::setsid();
    if (int null = ::open("/dev/null", O_RDWR); null >= 0) {
        ::dup2(null, 0), ::dup2(null, 1), ::dup2(null, 2);
        if (null > 2) ::close(null);
    }
}

// Raise the soft limit on descriptors to the hard one: every container holds a FUSE fd
// and a pidfd, and the cgroup files its views read are kept open
// (sys/files.hpp, KeptFiles). Children get the raised limit too; all the
// daemon's descriptors are close-on-exec.
void raise_file_limit() {
    rlimit files{};
    if (::getrlimit(RLIMIT_NOFILE, &files) != 0 || files.rlim_cur >= files.rlim_max) return;
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);
}

// ecifs --stop-all: the operator's full stop, through the control socket.
int request_stop_all(const std::filesystem::path& socket) {
    try {
        const auto reply = ecifs::control::request(socket.string(), {{"op", "stop-all"}});
        std::printf("ecifs: stopped; %zu containers removed\n", reply.value("removed", nlohmann::json::array()).size());
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ecifs: %s\n", e.what());
        return 1;
    }
}

// What the flags ask for.
struct CommandLine {
    ecifs::daemon::Options options;
    bool foreground = false;
    bool stop_all = false;
    std::string log_level = "info";
    std::string log_file;
    double client_timeout_seconds = 60;
};

void add_flags(CLI::App& app, CommandLine& cl) {
    app.set_version_flag("--version", std::string("ecifs ") + ECIFS_VERSION);
    app.add_flag("--foreground,-f", cl.foreground, "Stay in the foreground and log to stderr (for debugging)");
    app.add_option("--state-dir", cl.options.state_dir, "Where container mounts and state live")
        ->capture_default_str();
    app.add_option("--socket", cl.options.socket_path, "The control socket")->capture_default_str();
    app.add_option("--seccomp-socket", cl.options.seccomp_socket_path,
                   "Where runtimes hand over seccomp notify fds (default: seccomp.sock beside --socket, "
                   "/run/ecifs/seccomp.sock)");
    app.add_option("--threads", cl.options.threads, "Threads serving every mount and socket")
        ->check(CLI::Range(1u, 256u))
        ->capture_default_str();
    app.add_option("--client-timeout", cl.client_timeout_seconds,
                   "Seconds a control connection may stay idle before it is closed")
        ->check(CLI::Range(0.1, 86400.0))
        ->capture_default_str();
    app.add_option("--log-level", cl.log_level, "trace, debug, info, warn, error or off")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
        ->capture_default_str();
    app.add_option("--log-file", cl.log_file, "Log file when detached (default: STATE_DIR/ecifs.log)");
    app.add_flag("--stop-all", cl.stop_all,
                 "Tell the daemon on --socket to unmount every container's views and stop (SIGTERM or "
                 "SIGINT stop it and leave the containers to the next daemon), then exit");
}

// Logging to stderr in the foreground (the journal under systemd), else to the log file,
// which SIGHUP opens again (logrotate).
void set_up_logging(CommandLine& cl) {
    if (cl.foreground) {
        spdlog::set_default_logger(ecifs::service::foreground_logger());
    } else {
        std::filesystem::create_directories(cl.options.state_dir);
        if (cl.log_file.empty()) cl.log_file = (cl.options.state_dir / "ecifs.log").string();
        auto sink = std::make_shared<ecifs::service::ReopenableFileSink>(cl.log_file);
        spdlog::set_default_logger(ecifs::service::file_logger(sink));
        cl.options.on_hangup = [sink] { sink->reopen(); };
    }
    spdlog::flush_on(spdlog::level::info);
    spdlog::set_level(spdlog::level::from_str(cl.log_level));
}

// Set up logging, bind everything (so errors reach the shell), detach, serve. A service
// manager hears READY=1 once every socket serves (Type=notify) and STOPPING=1 at the end.
int serve(CommandLine& cl) {
    cl.options.client_timeout = std::chrono::milliseconds(static_cast<long>(cl.client_timeout_seconds * 1000));
    cl.options.on_ready = [] { ecifs::service::notify("READY=1"); };
    cl.options.on_stopping = [] { ecifs::service::notify("STOPPING=1"); };
    ::signal(SIGPIPE, SIG_IGN);
    raise_file_limit();
    try {
        set_up_logging(cl);
        ecifs::daemon::Daemon daemon(cl.options);
        if (!cl.foreground) detach(daemon.io());
        daemon.run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ecifs: %s\n", e.what());
        spdlog::error("{}", e.what());
        return 1;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    // The daemon re-executes itself as a helper inside a container's namespaces
    // (ns/executor.hpp); the socket is fd 3, the namespaces to join fds 4-7.
    if (argc == 3 && std::string_view(argv[1]) == "__ns-executor")
        return ecifs::ns::run_ns_executor(3, static_cast<pid_t>(std::atoi(argv[2])));
    // ... and as a helper doing one trapped mount or umount in a caller's namespaces
    // (seccomp/mount_helper.hpp): the socket is fd 3, the caller's /proc/TID fd 4.
    if (argc == 2 && std::string_view(argv[1]) == "__mount-helper") ecifs::seccomp::mount_helper::run(3, 4);
    // ... and as the process that keeps the containers' fds while no daemon runs
    // (daemon/fd_holder.hpp).
    if (argc == 3 && std::string_view(argv[1]) == "__fd-holder") return ecifs::daemon::run_fd_holder(argv[2]);

    CommandLine cl;
    cl.options.threads = std::max(2u, std::thread::hardware_concurrency());
    CLI::App app{"ecifs: per-container emulated /proc and /sys views over FUSE"};
    add_flags(app, cl);
    CLI11_PARSE(app, argc, argv);
    if (cl.stop_all) return request_stop_all(cl.options.socket_path);
    return serve(cl);
}
