#include "shim/runc_args.hpp"

#include <algorithm>
#include <optional>
#include <string_view>

namespace ecifs::shim {

namespace {

using Names = std::span<const std::string_view>;

// runc 1.1.5's global flags (`runc --help`).
constexpr std::string_view global_value_flags[] = {"log", "log-format", "root", "criu", "rootless"};
constexpr std::string_view global_bool_flags[] = {"debug", "systemd-cgroup"};
constexpr std::string_view global_info_flags[] = {"h", "help", "v", "version"};

// The flags of `runc create` and `runc run` (their --help), merged: a flag of one
// given to the other is runc's error to report, not ours.
constexpr std::string_view create_value_flags[] = {"bundle", "b", "console-socket", "pid-file", "preserve-fds"};
constexpr std::string_view create_bool_flags[] = {"no-pivot", "no-new-keyring", "detach", "d",
                                                   "keep", "no-subreaper", "rm"};
constexpr std::string_view create_info_flags[] = {"h", "help"};

bool among(std::string_view name, Names names) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

bool creates_container(std::string_view command) { return command == "create" || command == "run"; }

struct Flag {
    std::string_view name;
    std::optional<std::string_view> value;  // the "=value" part, if any
};

// "-x", "--x", "-x=v", "--x=v" are flags; "-" and anything without a leading dash
// are arguments (Go's flag package). "--" is handled by the callers.
std::optional<Flag> split_flag(std::string_view arg) {
    if (arg.size() < 2 || arg[0] != '-') return std::nullopt;
    std::string_view body = arg.substr(arg[1] == '-' ? 2 : 1);
    Flag flag{body, std::nullopt};
    if (auto eq = body.find('='); eq != std::string_view::npos) {
        flag.name = body.substr(0, eq);
        flag.value = body.substr(eq + 1);
    }
    return flag;
}

// Reads one value flag at args[i]; returns the index after it, or nullopt (and sets
// r.error) when the value is missing.
std::optional<size_t> take_value(std::span<const std::string> args, size_t i, const Flag& flag,
                                 RuncArgs& r, std::string* out) {
    if (flag.value) {
        if (out) *out = *flag.value;
        return i + 1;
    }
    if (i + 1 >= args.size()) {
        r.error = "flag needs an argument: " + args[i];
        return std::nullopt;
    }
    if (out) *out = args[i + 1];
    return i + 2;
}

bool is_ecifs_flag(const Flag& flag) { return flag.name.starts_with("ecifs-"); }

// One of ecifs-runc's own flags at args[i]: stores its value and marks its arguments
// as not the runtime's. Returns the index after it.
size_t take_ecifs_flag(std::span<const std::string> args, size_t i, const Flag& flag, RuncArgs& r,
                       std::vector<bool>& ours) {
    std::string* out = flag.name == socket_flag ? &r.ecifs_socket : flag.name == runtime_flag ? &r.ecifs_runtime : nullptr;
    if (!out) {
        r.ecifs_error = "unknown ecifs-runc flag: " + args[i] + " (ecifs-runc --help lists them)";
        return args.size();
    }
    size_t next = flag.value ? i + 1 : i + 2;
    if (next > args.size() || (flag.value ? flag.value->empty() : args[i + 1].empty())) {
        r.ecifs_error = "flag needs a value: " + args[i];
        return args.size();
    }
    *out = flag.value ? std::string(*flag.value) : args[i + 1];
    for (size_t k = i; k < next; ++k) ours[k] = true;
    return next;
}

// Global flags up to the command. Returns the command's index (== size if none).
size_t parse_global_flags(std::span<const std::string> args, RuncArgs& r, std::vector<bool>& ours) {
    size_t i = 0;
    while (i < args.size()) {
        if (args[i] == "--") return i + 1;
        auto flag = split_flag(args[i]);
        if (!flag) return i;
        if (is_ecifs_flag(*flag)) {
            i = take_ecifs_flag(args, i, *flag, r, ours);
        } else if (among(flag->name, global_info_flags)) {
            r.help = true;
            r.global_help = r.global_help || flag->name == "h" || flag->name == "help";
            ++i;
        } else if (among(flag->name, global_bool_flags)) {
            ++i;
        } else if (among(flag->name, global_value_flags)) {
            std::string* out = flag->name == "log"          ? &r.log_file
                               : flag->name == "log-format" ? &r.log_format
                                                            : nullptr;
            auto next = take_value(args, i, *flag, r, out);
            if (!next) return args.size();
            i = *next;
        } else {
            // Whether it takes a value is unknown, so the command is too.
            r.error = "unknown global flag: " + args[i];
            r.may_create_hidden = std::any_of(args.begin() + static_cast<long>(i) + 1, args.end(),
                                              [](const std::string& a) { return creates_container(a); });
            return args.size();
        }
    }
    return i;
}

// The flags and arguments of create/run, in any order until "--".
void parse_create_args(std::span<const std::string> args, RuncArgs& r) {
    bool flags_ended = false;
    size_t i = 0;
    while (i < args.size()) {
        const std::string& arg = args[i];
        if (!flags_ended && arg == "--") {
            flags_ended = true;
            ++i;
            continue;
        }
        auto flag = flags_ended ? std::nullopt : split_flag(arg);
        if (!flag) {
            if (r.container_id.empty()) r.container_id = arg;
            else r.extra_arguments = true;
            ++i;
        } else if (among(flag->name, create_info_flags)) {
            r.help = true;
            ++i;
        } else if (among(flag->name, create_bool_flags)) {
            ++i;
        } else if (among(flag->name, create_value_flags)) {
            bool is_bundle = flag->name == "bundle" || flag->name == "b";
            auto next = take_value(args, i, *flag, r, is_bundle ? &r.bundle : nullptr);
            if (!next) return;
            i = *next;
        } else {
            r.error = "unknown flag for '" + r.command + "': " + arg;
            return;
        }
    }
}

}  // namespace

RuncArgs::Action RuncArgs::action() const {
    bool creating = creates_container(command) || may_create_hidden;
    if (!creating || help) return Action::pass_through;
    if (!error.empty()) return Action::refuse;
    // runc itself rejects a line without exactly one argument; let it say so.
    if (container_id.empty() || extra_arguments) return Action::pass_through;
    return Action::prepare_container;
}

RuncArgs parse_runc_args(std::span<const std::string> args) {
    RuncArgs r;
    std::vector<bool> ours(args.size(), false);
    size_t at = parse_global_flags(args, r, ours);
    for (size_t i = 0; i < args.size(); ++i)
        if (!ours[i]) r.runtime_args.push_back(args[i]);
    if (at >= args.size()) return r;
    r.command = args[at];
    if (creates_container(r.command)) parse_create_args(args.subspan(at + 1), r);
    return r;
}

}  // namespace ecifs::shim
