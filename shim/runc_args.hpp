#pragma once
// Reading a runc command line, as runc 1.1 (urfave/cli v1 over Go's flag package)
// reads it: global flags, the command, then the command's flags and arguments.
//
// The shim only looks: the argv it passes on to the real runtime is never changed,
// except that ecifs-runc's own global flags (--ecifs-socket, --ecifs-runtime) are taken
// out. They are how Docker ("runtimeArgs") and Podman (--runtime-flag), which do not
// pass their environment to the runtime, tell it where the daemon is.
// Go's flag package accepts "-name" and "--name" alike, "-name=value" and
// "-name value" for flags with a value, and "--" ends the flags. urfave/cli moves a
// command's flags in front of its arguments, so "create ID --bundle DIR" is valid.
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ecifs::shim {

// ecifs-runc's own global flags, each taking a value ("--flag=V" or "--flag V").
inline constexpr std::string_view socket_flag = "ecifs-socket";
inline constexpr std::string_view runtime_flag = "ecifs-runtime";

struct RuncArgs {
    // The command ("create", "run", "delete", ...); empty when there is none.
    std::string command;
    // create/run: the bundle as given (relative to the caller's working directory);
    // empty means the current directory, as in runc.
    std::string bundle;
    // create/run: the first argument after the command that is not a flag.
    std::string container_id;
    // The global --log and --log-format values, so the shim can report its own
    // errors where the caller (containerd, Docker) looks for runc's.
    std::string log_file;
    std::string log_format;
    // -h/--help or -v/--version was given: runc prints something and does nothing.
    bool help = false;
    // -h/--help among the global flags: ecifs-runc prints its own flags first.
    bool global_help = false;
    // The values of --ecifs-socket and --ecifs-runtime; empty when not given.
    std::string ecifs_socket;
    std::string ecifs_runtime;
    // A malformed or unknown --ecifs-* flag: refused whatever the command.
    std::string ecifs_error;
    // The arguments for the real runtime: all but ecifs-runc's own flags.
    std::vector<std::string> runtime_args;
    // More than one argument after create/run's flags: runc will refuse the line.
    bool extra_arguments = false;
    // Set when a flag is unknown or lacks its value: the line cannot be read with
    // certainty (the shim refuses a create/run it cannot read; see action()).
    std::string error;
    // An unknown global flag hid the command, and "create" or "run" appears later.
    bool may_create_hidden = false;

    enum class Action {
        pass_through,       // exec the runtime, no daemon involved
        prepare_container,  // create/run of container_id in bundle: involve the daemon
        refuse,             // a create/run whose line we cannot read: fail loudly
    };
    Action action() const;
};

// Parse argv[1..] (without the program name).
RuncArgs parse_runc_args(std::span<const std::string> args);

}  // namespace ecifs::shim
