#include "seccomp/listener.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace {

using ecifs::seccomp::parse_listener_message;

std::string fixture(const char* name) {
    std::ifstream in(std::string(ECIFS_FIXTURES_DIR) + "/seccomp/" + name);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string why_refused(const std::string& text, std::size_t fds) {
    try {
        parse_listener_message(text, fds);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "accepted";
}

TEST(SeccompListener, RuncRunAndExecMessages) {
    auto run = parse_listener_message(fixture("runc-1.1.5-run.json"), 1);
    EXPECT_EQ(run.id, "cap");
    EXPECT_EQ(run.pid, 32719);
    EXPECT_EQ(run.oci_version, "1.0.2-dev");
    EXPECT_EQ(run.seccomp_fd, 0u);
    auto exec = parse_listener_message(fixture("runc-1.1.5-exec.json"), 1);
    EXPECT_EQ(exec.id, "cap");
    EXPECT_EQ(exec.pid, 32737);  // the exec'd process, not the init (state.pid)
}

TEST(SeccompListener, CrunsPrettyPrintedMessage) {
    auto m = parse_listener_message(fixture("crun-pretty.json"), 1);
    EXPECT_EQ(m.id, "cap");
    EXPECT_EQ(m.pid, 4242);
    EXPECT_EQ(m.oci_version, "0.2.0");
}

TEST(SeccompListener, TheSeccompFdIsFoundByName) {
    auto m = parse_listener_message(R"({"fds":["other","seccompFd"],"state":{"id":"x"}})", 2);
    EXPECT_EQ(m.seccomp_fd, 1u);
    EXPECT_EQ(m.pid, 0);
}

TEST(SeccompListener, MalformedMessagesSayWhy) {
    EXPECT_EQ(why_refused("garbage{", 1), "not a JSON object");
    EXPECT_EQ(why_refused("[1,2]", 1), "not a JSON object");
    EXPECT_EQ(why_refused(R"({"state":{"id":"x"}})", 1), "no \"fds\" list naming the fds sent");
    EXPECT_EQ(why_refused(R"({"fds":[],"state":{"id":"x"}})", 0), "\"fds\" names no seccompFd");
    EXPECT_EQ(why_refused(R"({"fds":[1],"state":{"id":"x"}})", 1), "\"fds\" holds a name that is not a string");
    EXPECT_EQ(why_refused(R"({"fds":["seccompFd","seccompFd"],"state":{"id":"x"}})", 2),
              "\"fds\" names seccompFd twice");
    EXPECT_EQ(why_refused(R"({"fds":["seccompFd"],"state":{"id":"x"}})", 0), "\"fds\" names 1 fds but 0 came with it");
    EXPECT_EQ(why_refused(R"({"fds":["seccompFd"],"state":{"id":"x"}})", 2), "\"fds\" names 1 fds but 2 came with it");
    EXPECT_EQ(why_refused(R"({"fds":["seccompFd"]})", 1), "no state.id naming the container");
    EXPECT_EQ(why_refused(R"({"fds":["seccompFd"],"state":{"id":""}})", 1), "no state.id naming the container");
    EXPECT_EQ(why_refused(R"({"fds":["seccompFd"],"state":{"id":7}})", 1), "no state.id naming the container");
    EXPECT_EQ(why_refused(R"({"fds":["seccompFd"],"pid":-4,"state":{"id":"x"}})", 1), "\"pid\" is not a process id");
}

// fuzz/seccomp_listener.cpp's check: a pid past pid_t was cut to another process's id
// (4294967297 became 1) instead of refused.
TEST(SeccompListener, APidPastPidTIsRefusedNotCut) {
    EXPECT_EQ(why_refused(R"({"fds":["seccompFd"],"pid":4294967297,"state":{"id":"x"}})", 1),
              "\"pid\" is not a process id");
    EXPECT_EQ(why_refused(R"({"fds":["seccompFd"],"pid":2147483648,"state":{"id":"x"}})", 1),
              "\"pid\" is not a process id");
    EXPECT_EQ(parse_listener_message(R"({"fds":["seccompFd"],"pid":2147483647,"state":{"id":"x"}})", 1).pid, 2147483647);
}

}  // namespace
