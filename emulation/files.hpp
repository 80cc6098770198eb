#pragma once
// Reading procfs and sysfs, which report size 0: a file is read until EOF. These return
// 0 or the errno, because that errno is often what a container's reader must get.
#include <sys/stat.h>

#include <string>
#include <utility>
#include <vector>

namespace ecifs::emulation {

// The whole file; never follows a symlink in the last component.
int read_file(const std::string& path, std::string& out);

// A directory's entries (without "." and ".."), each with its lstat.
int list_directory(const std::string& path, std::vector<std::pair<std::string, struct stat>>& out);

}  // namespace ecifs::emulation
