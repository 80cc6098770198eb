#pragma once
// The show functions of every handler family, listed in handlers/registry.cpp.
#include "handlers/handler.hpp"
#include "handlers/view.hpp"

namespace ecifs::handlers {

int show_meminfo(const ContainerView&, std::string& out);     // handlers/meminfo.cpp
int show_uptime(const ContainerView&, std::string& out);      // handlers/uptime.cpp
int show_cpuinfo(const ContainerView&, std::string& out);     // handlers/cpuinfo.cpp
int show_stat(const ContainerView&, std::string& out);        // handlers/stat.cpp
int show_loadavg(const ContainerView&, std::string& out);     // handlers/loadavg.cpp
int show_swaps(const ContainerView&, std::string& out);       // handlers/swaps.cpp
int show_diskstats(const ContainerView&, std::string& out);   // handlers/diskstats.cpp
int show_vmstat(const ContainerView&, std::string& out);      // handlers/vmstat.cpp
const Subtree& sys_cpu();        // handlers/sys_cpu.cpp: /sys/devices/system/cpu
const Subtree& sys_node();       // handlers/sys_cpu.cpp: /sys/devices/system/node
const Subtree& proc_pressure();  // handlers/pressure.cpp: /proc/pressure

int show_conntrack_hashsize(const Context&, std::string& out);    // handlers/sys_module.cpp
int write_conntrack_hashsize(const Context&, std::string_view data);

int show_product_uuid(const Context&, std::string& out);  // handlers/sys_dmi.cpp

const Subtree& proc_sys();  // handlers/proc_sys.cpp

}  // namespace ecifs::handlers
