#pragma once
// A fresh directory of its own under the test's temporary directory: ctest runs the
// tests in parallel processes, so a fixed name would be shared between them.
#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>

namespace ecifs::testing_support {

inline std::filesystem::path unique_temp_dir(const std::string& prefix) {
    std::string pattern = (std::filesystem::path(testing::TempDir()) / (prefix + "-XXXXXX")).string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp " + pattern + " failed");
    return pattern;
}

}  // namespace ecifs::testing_support
