#include "shim/runc_args.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using ecifs::shim::parse_runc_args;
using ecifs::shim::RuncArgs;
using Action = RuncArgs::Action;

RuncArgs parse(std::vector<std::string> args) { return parse_runc_args(args); }

TEST(RuncArgs, CreateWithBundleFlagAndId) {
    RuncArgs r = parse({"create", "--bundle", "/b", "c1"});
    EXPECT_EQ(r.command, "create");
    EXPECT_EQ(r.bundle, "/b");
    EXPECT_EQ(r.container_id, "c1");
    EXPECT_EQ(r.action(), Action::prepare_container);
}

TEST(RuncArgs, ShortBundleAndEqualsForm) {
    EXPECT_EQ(parse({"run", "-b", "/x", "c1"}).bundle, "/x");
    EXPECT_EQ(parse({"run", "--bundle=/y", "c1"}).bundle, "/y");
    EXPECT_EQ(parse({"run", "-bundle=/z", "c1"}).bundle, "/z");  // Go's flag: one dash is fine
    EXPECT_EQ(parse({"run", "-b=/w", "c1"}).bundle, "/w");
}

TEST(RuncArgs, BundleDefaultsToCurrentDirectory) {
    RuncArgs r = parse({"run", "c1"});
    EXPECT_EQ(r.bundle, "");
    EXPECT_EQ(r.container_id, "c1");
    EXPECT_EQ(r.action(), Action::prepare_container);
}

TEST(RuncArgs, ContainerdStyleLine) {
    // As containerd's runc shim calls it.
    RuncArgs r = parse({"--root", "/run/containerd/runc/moby", "--log", "/run/x/log.json", "--log-format",
                        "json", "--systemd-cgroup", "create", "--bundle", "/run/b", "--pid-file",
                        "/run/b/init.pid", "--console-socket", "/tmp/pty.sock", "abc123"});
    EXPECT_EQ(r.command, "create");
    EXPECT_EQ(r.bundle, "/run/b");
    EXPECT_EQ(r.container_id, "abc123");
    EXPECT_EQ(r.log_file, "/run/x/log.json");
    EXPECT_EQ(r.log_format, "json");
    EXPECT_EQ(r.action(), Action::prepare_container);
}

TEST(RuncArgs, GlobalFlagsWithEquals) {
    RuncArgs r = parse({"--root=/r", "--log=/l", "--log-format=text", "--criu=/c", "--rootless=true",
                        "--debug", "run", "c1"});
    EXPECT_EQ(r.command, "run");
    EXPECT_EQ(r.log_file, "/l");
    EXPECT_EQ(r.log_format, "text");
    EXPECT_EQ(r.container_id, "c1");
}

TEST(RuncArgs, GlobalValueMayLookLikeACommand) {
    RuncArgs r = parse({"--root", "create", "delete", "c1"});
    EXPECT_EQ(r.command, "delete");
    EXPECT_EQ(r.action(), Action::pass_through);
}

TEST(RuncArgs, IdAfterBooleanAndValueFlags) {
    RuncArgs r = parse({"run", "-d", "--no-pivot", "--preserve-fds", "3", "--keep", "c1"});
    EXPECT_EQ(r.container_id, "c1");
    r = parse({"run", "--pid-file", "/p", "--detach", "c2"});
    EXPECT_EQ(r.container_id, "c2");
    r = parse({"create", "--no-new-keyring", "--console-socket=/s", "c3"});
    EXPECT_EQ(r.container_id, "c3");
}

TEST(RuncArgs, FlagsAfterTheId) {
    // urfave/cli moves a command's flags before its arguments.
    RuncArgs r = parse({"create", "c1", "--bundle", "/b", "--no-pivot"});
    EXPECT_EQ(r.container_id, "c1");
    EXPECT_EQ(r.bundle, "/b");
    EXPECT_EQ(r.action(), Action::prepare_container);
}

TEST(RuncArgs, DoubleDashEndsFlags) {
    RuncArgs r = parse({"run", "-b", "/b", "--", "-odd-id"});
    EXPECT_EQ(r.container_id, "-odd-id");
}

TEST(RuncArgs, OtherCommandsPassThrough) {
    for (const char* cmd : {"delete", "start", "kill", "state", "exec", "ps", "list", "spec", "features"}) {
        RuncArgs r = parse({"--root", "/r", cmd, "c1"});
        EXPECT_EQ(r.command, cmd);
        EXPECT_EQ(r.container_id, "");  // only create/run are looked into
        EXPECT_EQ(r.action(), Action::pass_through) << cmd;
    }
}

TEST(RuncArgs, HelpAndVersionPassThrough) {
    EXPECT_EQ(parse({"--help"}).action(), Action::pass_through);
    EXPECT_EQ(parse({"-v"}).action(), Action::pass_through);
    EXPECT_EQ(parse({}).action(), Action::pass_through);
    RuncArgs r = parse({"run", "--help"});
    EXPECT_TRUE(r.help);
    EXPECT_EQ(r.action(), Action::pass_through);
    EXPECT_EQ(parse({"-h", "run", "c1"}).action(), Action::pass_through);
}

TEST(RuncArgs, CreateWithoutIdOrWithTwoIsRuncsToRefuse) {
    EXPECT_EQ(parse({"create", "--bundle", "/b"}).action(), Action::pass_through);
    RuncArgs r = parse({"create", "a", "b"});
    EXPECT_TRUE(r.extra_arguments);
    EXPECT_EQ(r.action(), Action::pass_through);
}

TEST(RuncArgs, UnreadableCreateIsRefused) {
    RuncArgs r = parse({"create", "--frobnicate", "x", "c1"});
    EXPECT_FALSE(r.error.empty());
    EXPECT_EQ(r.action(), Action::refuse);
    r = parse({"--cgroup-manager", "systemd", "create", "c1"});
    EXPECT_TRUE(r.may_create_hidden);
    EXPECT_EQ(r.action(), Action::refuse);
}

TEST(RuncArgs, UnknownGlobalFlagWithoutCreatePassesThrough) {
    EXPECT_EQ(parse({"--frobnicate", "list"}).action(), Action::pass_through);
}

using Args = std::vector<std::string>;

TEST(RuncArgs, EcifsFlagsAreTakenOutOfTheRuntimesLine) {
    // As Docker's runtimeArgs and Podman's --runtime-flag put them: before runc's own.
    RuncArgs r = parse({"--ecifs-socket=/s/ecifs.sock", "--root", "/r", "--ecifs-runtime", "crun", "run", "-d", "c1"});
    EXPECT_EQ(r.ecifs_socket, "/s/ecifs.sock");
    EXPECT_EQ(r.ecifs_runtime, "crun");
    EXPECT_EQ(r.runtime_args, (Args{"--root", "/r", "run", "-d", "c1"}));
    EXPECT_EQ(r.command, "run");
    EXPECT_EQ(r.container_id, "c1");
    EXPECT_EQ(r.action(), Action::prepare_container);
    EXPECT_TRUE(r.ecifs_error.empty());
}

TEST(RuncArgs, EcifsFlagsGoFromEveryCommand) {
    RuncArgs r = parse({"-ecifs-socket", "/s", "--root", "/r", "delete", "--force", "c1"});
    EXPECT_EQ(r.ecifs_socket, "/s");
    EXPECT_EQ(r.runtime_args, (Args{"--root", "/r", "delete", "--force", "c1"}));
    EXPECT_EQ(r.action(), Action::pass_through);
}

TEST(RuncArgs, WithoutEcifsFlagsTheLineIsUntouched) {
    Args line{"--root", "/r", "--log", "/l", "exec", "--ecifs-socket=/x", "c1", "sh"};
    RuncArgs r = parse(line);
    EXPECT_EQ(r.runtime_args, line);  // after the command it is the command's argument
    EXPECT_TRUE(r.ecifs_socket.empty());
}

TEST(RuncArgs, BadEcifsFlagsAreRefused) {
    EXPECT_NE(parse({"--ecifs-sokcet=/s", "list"}).ecifs_error.find("unknown ecifs-runc flag"), std::string::npos);
    EXPECT_NE(parse({"--ecifs-socket"}).ecifs_error.find("needs a value"), std::string::npos);
    EXPECT_NE(parse({"--ecifs-socket=", "list"}).ecifs_error.find("needs a value"), std::string::npos);
}

TEST(RuncArgs, GlobalHelpIsNotVersion) {
    EXPECT_TRUE(parse({"--help"}).global_help);
    EXPECT_TRUE(parse({"-h"}).global_help);
    EXPECT_FALSE(parse({"--version"}).global_help);
    EXPECT_FALSE(parse({"run", "--help"}).global_help);
}

TEST(RuncArgs, MissingValue) {
    EXPECT_EQ(parse({"run", "c1", "--bundle"}).action(), Action::refuse);
    EXPECT_EQ(parse({"--root"}).action(), Action::pass_through);
}

}  // namespace
