#pragma once
// The generators of every handler family, listed in handlers/registry.cpp.
#include "handlers/handler.hpp"

namespace ecifs::handlers {

int show_meminfo(const Context&, std::string& out);     // handlers/meminfo.cpp
int show_uptime(const Context&, std::string& out);      // handlers/uptime.cpp
int show_cpu_online(const Context&, std::string& out);  // handlers/cpu.cpp

}  // namespace ecifs::handlers
