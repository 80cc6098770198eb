// ecifs-runc: a drop-in for runc. On create/run it asks the daemon to prepare the
// container, adds the view mounts and the hooks to the bundle's config.json, then
// execs the real runtime with the argv as given, less ecifs-runc's own flags.
// Everything else passes through.
//
//   ecifs-runc [--ecifs-socket=PATH] [--ecifs-runtime=NAME] [runc's global flags] COMMAND ...
//                                                   as runc; its own flags are taken out
//   ecifs-runc ecifs-hook start|poststop ...        run by runc as an OCI hook
//   ecifs-runc ecifs-help                           its own flags and the ECIFS_* variables
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include <fmt/chrono.h>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "cgroup/delegate.hpp"
#include "control/protocol.hpp"
#include "shim/cgroup_delegation.hpp"
#include "shim/oci_config.hpp"
#include "shim/runc_args.hpp"
#include "shim/view_attach.hpp"
#include "sys/caller_task.hpp"
#include "sys/text.hpp"

namespace {

namespace fs = std::filesystem;
namespace cgroup = ecifs::cgroup;
namespace control = ecifs::control;
namespace shim = ecifs::shim;
namespace sys = ecifs::sys;
using nlohmann::json;

constexpr const char* runtime_env = "ECIFS_RUNTIME";
constexpr const char* seccomp_socket_env = "ECIFS_SECCOMP_SOCKET";
constexpr const char* default_runtime = "runc";

// ---- errors --------------------------------------------------------------------------

struct Failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Say it on stderr and, when the caller gave runc a --log file (containerd and Docker
// do), there too in runc's format: that file is where they look for the reason.
void report(const shim::RuncArgs& args, const std::string& message) {
    std::cerr << "ecifs-runc: " << message << "\n";
    if (args.log_file.empty()) return;
    std::ofstream log(args.log_file, std::ios::app);
    std::tm now = fmt::gmtime(std::chrono::system_clock::to_time_t(std::chrono::system_clock::now()));
    std::string text = "ecifs-runc: " + message;
    if (args.log_format == "json")
        log << json{{"level", "error"}, {"msg", text}, {"time", fmt::format("{:%FT%TZ}", now)}}.dump() << "\n";
    else
        log << fmt::format("time=\"{:%FT%TZ}\" level=error msg={}\n", now, json(text).dump());
}

// ---- the real runtime ----------------------------------------------------------------

// --ecifs-runtime, else $ECIFS_RUNTIME, else runc.
std::string runtime_name(const shim::RuncArgs& args) {
    if (!args.ecifs_runtime.empty()) return args.ecifs_runtime;
    const char* env = std::getenv(runtime_env);
    return env && *env ? env : default_runtime;
}

// Where the daemon's control socket is, and who said so (for error messages).
struct SocketChoice {
    std::string path;
    std::string origin;
};

// --ecifs-socket, else $ECIFS_SOCKET, else the default. Docker and Podman do not pass
// their environment to the runtime: with them the flag or the default is what works.
SocketChoice daemon_socket(const shim::RuncArgs& args) {
    if (!args.ecifs_socket.empty()) return {args.ecifs_socket, fmt::format("--{}", shim::socket_flag)};
    const char* env = std::getenv(control::socket_env);
    if (env && *env) return {env, fmt::format("${}", control::socket_env)};
    return {control::default_socket_path, "the default"};
}

std::string socket_hint(const SocketChoice& socket) {
    return fmt::format("(the socket is {}; give another with --{}=PATH: in Docker's daemon.json as "
                       "\"runtimeArgs\", with Podman as --runtime-flag {}=PATH)",
                       socket.origin, shim::socket_flag, shim::socket_flag);
}

// The file execvp would run for `name`, or empty if none.
fs::path find_program(const std::string& name) {
    if (name.find('/') != std::string::npos) return name;
    const char* path_env = std::getenv("PATH");
    std::string dirs = path_env ? path_env : "/usr/local/bin:/usr/bin:/bin";
    for (const auto dir : sys::split_on(dirs, ':')) {
        fs::path candidate = (dir.empty() ? fs::path(".") : fs::path(dir)) / name;
        if (::access(candidate.c_str(), X_OK) == 0 && !fs::is_directory(candidate)) return candidate;
    }
    return {};
}

// ecifs-runc installed as "runc" ahead of the real one would exec itself forever.
void refuse_to_run_self(const std::string& runtime) {
    fs::path found = find_program(runtime);
    std::error_code ec;
    if (!found.empty() && fs::equivalent(found, "/proc/self/exe", ec))
        throw Failure(fmt::format("the runtime '{}' is ecifs-runc itself ({}); set {} to the real runc",
                                  runtime, found.string(), runtime_env));
}

[[noreturn]] void exec_runtime(shim::RuncArgs& parsed) {
    std::string runtime = runtime_name(parsed);
    refuse_to_run_self(runtime);
    std::vector<char*> args{runtime.data()};
    for (std::string& arg : parsed.runtime_args) args.push_back(arg.data());
    args.push_back(nullptr);
    ::execvp(runtime.c_str(), args.data());
    throw Failure(fmt::format("cannot run the runtime '{}': {}", runtime, std::strerror(errno)));
}

// ---- create / run ----------------------------------------------------------------------

std::string self_exe() {
    std::error_code ec;
    fs::path self = fs::read_symlink("/proc/self/exe", ec);
    if (ec) throw Failure(fmt::format("cannot read /proc/self/exe: {}", ec.message()));
    return self.string();
}

fs::path bundle_dir(const shim::RuncArgs& args) {
    return fs::absolute(args.bundle.empty() ? fs::path(".") : fs::path(args.bundle)).lexically_normal();
}

// Where the daemon takes seccomp notify fds: $ECIFS_SECCOMP_SOCKET, else what its
// prepare reply says (empty from a daemon without a trapper: no seccomp rules then).
std::string seccomp_listener(const json& reply) {
    const char* env = std::getenv(seccomp_socket_env);
    if (env && *env) return env;
    if (reply.contains("seccomp_listener") && reply["seccomp_listener"].is_string())
        return reply["seccomp_listener"].get<std::string>();
    return {};
}

control::ReplyWithFd ask_to_prepare(const SocketChoice& socket, const shim::RuncArgs& args,
                                    const shim::RootIds& root, const shim::RuntimeMasks& masks) {
    try {
        return control::request_with_fd(socket.path, {{"op", "prepare"},
                                                      {"id", args.container_id},
                                                      {"root_uid", root.uid},
                                                      {"root_gid", root.gid},
                                                      // We exec the runtime, so our pid is the creator's:
                                                      // if it exits before the init exists, the daemon
                                                      // forgets the container.
                                                      {"creator_pid", ::getpid()},
                                                      // A proc or sysfs mounted inside gets them too.
                                                      {"masked_paths", masks.masked},
                                                      {"readonly_paths", masks.read_only},
                                                      {"mount_fd", true}});
    } catch (const control::DaemonUnreachable& e) {
        throw Failure(fmt::format("{} {}", e.what(), socket_hint(socket)));
    }
}

// The daemon's mount, where the runtime we exec can open it: attached here from the
// copy the daemon sent when this mount namespace does not show it (Podman's own).
void make_views_reachable(const json& reply, const sys::Fd& tree) {
    if (!tree) return;  // a daemon that sends no copy: its mount must be visible here
    if (!reply.contains("mount") || !reply["mount"].is_string())
        throw Failure("the ecifs daemon's prepare reply names no mount directory");
    shim::attach_views(reply["mount"].get<std::string>(), tree.get());
}

void prepare_container(const shim::RuncArgs& args) {
    fs::path config_file = bundle_dir(args) / "config.json";
    json config = shim::read_config(config_file);
    shim::RootIds root = shim::container_root_ids(config);
    const shim::RuntimeMasks masks = shim::runtime_masks(config);
    SocketChoice socket = daemon_socket(args);
    control::ReplyWithFd prepared = ask_to_prepare(socket, args, root, masks);
    const json& reply = prepared.body;
    try {
        make_views_reachable(reply, prepared.fd);
        prepared.fd.reset();  // never handed on to the runtime
        shim::apply_ecifs(config, shim::views_from_reply(reply),
                          {self_exe(), socket.path, seccomp_listener(reply), ::geteuid() == 0});
        shim::write_config_atomically(config_file, config);
    } catch (...) {
        // The daemon prepared a container that will never start: let it forget it.
        try {
            control::request(socket.path, {{"op", "remove"}, {"id", args.container_id}});
        } catch (const control::ControlError&) {
        }
        throw;
    }
}

// ---- hooks -----------------------------------------------------------------------------

// The OCI state runc writes on a hook's stdin: {"id","pid","bundle","status",...}.
json read_state() {
    std::string text{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
    json state = json::parse(text, nullptr, false);
    if (state.is_discarded() || !state.is_object() || !state.contains("id") || !state["id"].is_string())
        throw Failure("the hook's stdin is not an OCI state with an id");
    return state;
}

bool contains(const std::string& text, std::string_view word) { return text.find(word) != std::string::npos; }

void hook_poststop(const json& state) {
    try {
        control::request(control::socket_path_from_env(), {{"op", "remove"}, {"id", state["id"]}});
    } catch (const control::ControlError& e) {
        std::string message = e.what();
        // The daemon may have forgotten the container already, when its init died.
        if (contains(message, "unknown container")) return;
        // A failing poststop hook makes `runc delete` fail, and the container could not
        // be deleted until the daemon returns; the daemon forgets dead containers when
        // it starts again, so a missing daemon is only worth a warning here.
        if (contains(message, "is not running")) {
            std::cerr << "ecifs-runc: warning: " << message << "\n";
            return;
        }
        throw;
    }
}

// Runs inside the container's mount (and user) namespace, before pivot_root: the
// container's /proc is mounted at <rootfs>/proc, so a bind there lands in its /proc.
void bind_view(const shim::View& view, const fs::path& rootfs) {
    fs::path target = rootfs / fs::path(view.destination).relative_path();
    shim::KernelFiles kernel_files(rootfs, view.destination);
    if (::mount(view.source.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0)
        throw Failure(fmt::format("bind {} on {}: {}", view.source, target.string(), std::strerror(errno)));
    // The source's nosuid,nodev,noexec are locked in a user namespace: repeat them.
    unsigned long flags = MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | MS_NOEXEC;
    if (::mount(nullptr, target.c_str(), nullptr, flags, nullptr) != 0)
        throw Failure(fmt::format("remount {}: {}", target.string(), std::strerror(errno)));
    kernel_files.put_back();
}

// The views runc refuses to bind under /proc, placed from the createRuntime hook: runc
// runs it in its own namespaces, with the container's init (`init_pid`) waiting between
// its config mounts and pivot_root (runc's syncParentHooks; crun's sync before the
// masks). The hook joins the init's user and mount namespaces, where the rootfs is at
// the same path and the daemon's mount is visible, and binds there, as the container's
// root would. It never joins the init's pid namespace: a createContainer hook, which
// runc init forks there, would take one of the container's pids (its first process
// would be one higher than under runc). The list is in the hook's own args (see
// shim::place_args): no need to read the bundle's config.json.
void place_views(int init_pid, const json& state, std::span<const std::string> args) {
    shim::PlaceList list = shim::parse_place_args(args);
    std::string bundle = state.value("bundle", "");
    if (bundle.empty()) throw Failure("the OCI state has no bundle");
    fs::path rootfs = shim::resolve_rootfs(list.root_path, bundle);
    static constexpr sys::Ns kinds[] = {sys::Ns::user, sys::Ns::mnt};
    sys::Fd task = sys::open_task_dir(init_pid);
    sys::Namespaces ns(task.get(), kinds);
    if (!ns.ok()) throw Failure(fmt::format("the namespaces of the container's init {}: {}", init_pid, std::strerror(ns.error())));
    if (int err = ns.join()) throw Failure(fmt::format("joining the container's namespaces: {}", std::strerror(err)));
    for (const shim::View& view : list.views) bind_view(view, rootfs);
}

// The container's cgroups become its root's (shim/cgroup_delegation.hpp), when
// apply_ecifs asked for it: runc has made them and put the waiting init in them.
void delegate_cgroups(int init_pid) {
    const char* value = std::getenv(std::string(shim::delegate_env).c_str());
    if (!value) return;
    const auto root = shim::parse_delegate_value(value);
    if (!root) throw Failure(fmt::format("{}={}: not UID:GID", shim::delegate_env, value));
    try {
        cgroup::delegate_cgroups(init_pid, root->uid, root->gid, cgroup::delegation_files());
    } catch (const std::exception& e) {
        throw Failure(fmt::format("giving the container's cgroups to its root: {}", e.what()));
    }
}

// start [ROOT_PATH SOURCE DESTINATION]...: give the container its cgroups, tell the
// daemon the container's init, then place the views given.
void hook_start(const json& state, std::span<const std::string> place) {
    const int pid = state.value("pid", 0);
    if (pid <= 0) throw Failure("the OCI state has no pid of the container's init");
    delegate_cgroups(pid);
    control::request(control::socket_path_from_env(), {{"op", "start"}, {"id", state["id"]}, {"pid", pid}});
    if (!place.empty()) place_views(pid, state, place);
}

int run_hook(std::span<const std::string> args) {
    const std::string mode = args.empty() ? "" : args[0];
    if (mode != "start" && mode != "poststop")
        throw Failure("usage: ecifs-runc ecifs-hook start [ROOT_PATH SOURCE DESTINATION]...|poststop");
    json state = read_state();
    if (mode == "start") hook_start(state, args.subspan(1));
    else hook_poststop(state);
    return 0;
}

void print_ecifs_help() {
    std::cout << "ecifs-runc: runc with ecifs views of /proc and /sys.\n"
                 "Called exactly like runc: every command and flag goes to the runtime, but for\n"
                 "ecifs-runc's own global flags, which are taken out:\n\n"
              << "  --" << shim::socket_flag << "=PATH   the ecifs daemon's control socket (default: $"
              << control::socket_env << ", else " << control::default_socket_path << ")\n"
              << "  --" << shim::runtime_flag << "=NAME  the real runtime to exec (default: $" << runtime_env
              << ", else " << default_runtime << ")\n\n"
              << "Docker and Podman do not pass their environment to the runtime: give the flags\n"
                 "in daemon.json's \"runtimeArgs\" or with Podman's --runtime-flag "
              << shim::socket_flag << "=PATH.\n\n"
                 "Environment:\n"
              << "  " << control::socket_env << ", " << runtime_env << "  as the flags above\n"
              << "  " << seccomp_socket_env << "  the daemon's seccomp listener (default: what the daemon says)\n\n"
              << "On create/run the bundle's config.json gets the view mounts, the\n"
                 "'ecifs-hook' hooks and the seccomp listener with its rules (annotation\n"
                 "io.ecifs.managed); the daemon must run. A container with a user namespace\n"
                 "also gets its own cgroup (a cgroup namespace, a writable cgroup mount, its\n"
                 "cgroup's delegation files owned by its root): systemd can be its PID 1.\n";
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    shim::RuncArgs parsed;
    try {
        if (!args.empty() && args[0] == shim::hook_word) return run_hook(std::span(args).subspan(1));
        if (!args.empty() && args[0] == "ecifs-help") {
            print_ecifs_help();
            return 0;
        }
        parsed = shim::parse_runc_args(args);
        if (!parsed.ecifs_error.empty()) throw Failure(parsed.ecifs_error);
        if (parsed.global_help) {
            print_ecifs_help();
            std::cout << "\nThe runtime's help follows.\n\n" << std::flush;
        }
        switch (parsed.action()) {
        case shim::RuncArgs::Action::refuse:
            throw Failure(fmt::format("cannot read this runc command line ({}); not starting a container "
                                      "without ecifs",
                                      parsed.error));
        case shim::RuncArgs::Action::prepare_container:
            prepare_container(parsed);
            break;
        case shim::RuncArgs::Action::pass_through:
            break;
        }
        exec_runtime(parsed);
    } catch (const std::exception& e) {
        report(parsed, e.what());
        return 1;
    }
}
