// Helpers shared by hvbios's tests. Abseil 20220623 has no status matchers.
#ifndef HVBIOS_TESTS_TEST_UTIL_H_
#define HVBIOS_TESTS_TEST_UTIL_H_

#include <stdlib.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"

#define HVB_TEST_CONCAT_INNER_(a, b) a##b
#define HVB_TEST_CONCAT_(a, b) HVB_TEST_CONCAT_INNER_(a, b)

#define ASSERT_OK(expr)                                     \
  do {                                                      \
    const ::absl::Status hvb_test_status_ = (expr);         \
    ASSERT_TRUE(hvb_test_status_.ok()) << hvb_test_status_; \
  } while (0)
#define EXPECT_OK(expr)                                     \
  do {                                                      \
    const ::absl::Status hvb_test_status_ = (expr);         \
    EXPECT_TRUE(hvb_test_status_.ok()) << hvb_test_status_; \
  } while (0)

#define ASSERT_OK_AND_ASSIGN(lhs, expr)                                     \
  ASSERT_OK_AND_ASSIGN_IMPL_(HVB_TEST_CONCAT_(hvb_test_or_, __LINE__), lhs, \
                             expr)
#define ASSERT_OK_AND_ASSIGN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                               \
  ASSERT_TRUE(statusor.ok()) << statusor.status();      \
  lhs = *std::move(statusor)

// Unwraps a StatusOr's status for EXPECT_EQ on codes.
template <typename T>
absl::StatusCode CodeOf(const absl::StatusOr<T>& s) {
  return s.status().code();
}
inline absl::StatusCode CodeOf(const absl::Status& s) { return s.code(); }

namespace hvbios::testing {

// A directory of its own under the test temp dir, removed when it goes
// out of scope: runs of a suite may overlap (presets, shared machines).
class ScopedTempDir {
 public:
  ScopedTempDir() = default;
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;
  ~ScopedTempDir() {
    if (!path_.empty()) std::system(("rm -rf '" + path_ + "'").c_str());
  }
  // Creates it; false if mkdtemp failed.
  bool Create(const std::string& prefix) {
    std::string pattern = ::testing::TempDir() + "/" + prefix + ".XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) return false;
    path_ = pattern;
    return true;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The tarfs example's disk: a ustar archive `dir`/fs.tar holding
// hello.txt ("Hello from inside a tar archive!\n"); its path, or "" if
// tar failed.
inline std::string WriteHelloTar(const std::string& dir) {
  const std::string src = dir + "/tarsrc", tar = dir + "/fs.tar";
  if (std::system(("mkdir -p '" + src + "'").c_str()) != 0) return "";
  std::ofstream(src + "/hello.txt") << "Hello from inside a tar archive!\n";
  const std::string command =
      "tar --format=ustar -C '" + src + "' -cf '" + tar + "' hello.txt";
  return std::system(command.c_str()) == 0 ? tar : "";
}

}  // namespace hvbios::testing

#endif  // HVBIOS_TESTS_TEST_UTIL_H_
