#include "tools/hvbios-run/stack_walk.h"

#include <algorithm>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "hvbios/vm.h"
#include "tests/kvm/kvm_guest.h"
#include "tests/run_command.h"

namespace hvbios::run {
namespace {

// `name`'s address in `elf`, from binutils' nm (an independent reader).
uint64_t NmAddress(const std::string& elf, const std::string& name) {
  const testing::CommandResult r = testing::RunCommand({"nm", elf});
  for (absl::string_view line : absl::StrSplit(r.out, '\n')) {
    const std::vector<absl::string_view> f = absl::StrSplit(line, ' ');
    uint64_t address = 0;
    if (f.size() == 3 && f[2] == name && absl::SimpleHexAtoi(f[0], &address)) {
      return address;
    }
  }
  return 0;
}

class StackWalkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::vector<uint8_t>> image =
        ReadGuestImage(testing::GuestPath("hello"));
    ASSERT_TRUE(image.ok()) << image.status();
    image_ = *std::move(image);
    main_ = NmAddress(testing::GuestPath("hello"), "hvb_main");
    printf_ = NmAddress(testing::GuestPath("hello"), "hvb_printf");
    ASSERT_NE(main_, 0u);
    ASSERT_NE(printf_, 0u);
  }
  ReadPhysical Reader() {
    return [this](uint64_t gpa, uint64_t* value) {
      auto it = memory_.find(gpa);
      if (it == memory_.end()) return false;
      *value = it->second;
      return true;
    };
  }
  std::vector<uint8_t> image_;
  uint64_t main_ = 0, printf_ = 0;
  std::map<uint64_t, uint64_t> memory_;  // 8-byte words by address
};

TEST_F(StackWalkTest, SymbolsNameAddressesInsideFunctions) {
  const Symbols symbols(image_);
  EXPECT_GT(symbols.size(), 10u);
  EXPECT_EQ(symbols.Describe(main_), "hvb_main+0x0");
  EXPECT_EQ(symbols.Describe(main_ + 5), "hvb_main+0x5");
  EXPECT_EQ(symbols.Describe(0x10), "");
  // A return address just past a function is its caller's (a call to a
  // function that never returns, last in its caller).
  EXPECT_EQ(symbols.DescribeReturn(main_ + 5), "hvb_main+0x5");
  EXPECT_EQ(Symbols({}).size(), 0u);
  const std::vector<uint8_t> junk(4096, 0x7f);
  EXPECT_EQ(Symbols(junk).size(), 0u);
  std::vector<uint8_t> cut(image_.begin(), image_.begin() + image_.size() / 2);
  EXPECT_EQ(Symbols(cut).Describe(0x10), "") << "a cut image is no crash";
}

// Paging off: the hypercall page's rip, the return address on top of the
// stack, then two frames by rbp; the chain ends at a return address that
// is no function's.
TEST_F(StackWalkTest, WalksFramesUntilTheyStopLookingLikeFrames) {
  Registers regs = {};
  regs.rip = 0x4000;  // the hypercall page: no symbol
  regs.rsp = 0x8000;
  regs.rbp = 0x8010;
  memory_[0x8000] = printf_ + 0x20;
  memory_[0x8010] = 0x8040;  // saved rbp
  memory_[0x8018] = main_ + 0x11;
  memory_[0x8040] = 0x8080;
  memory_[0x8048] = 0x12345678;  // not in the image: the walk ends
  const std::string stack = DescribeStack(regs, Reader(), Symbols(image_));
  EXPECT_EQ(stack, absl::StrCat("  #0 0x4000 (not in the guest image)\n",
                                "  #1 0x", absl::Hex(printf_ + 0x20),
                                " hvb_printf+0x20\n", "  #2 0x",
                                absl::Hex(main_ + 0x11), " hvb_main+0x11\n"));
  // A frame pointer below the stack pointer is no frame.
  regs.rbp = 0x7ff0;
  const std::string short_stack =
      DescribeStack(regs, Reader(), Symbols(image_));
  EXPECT_EQ(std::count(short_stack.begin(), short_stack.end(), '\n'), 2)
      << short_stack;
}

// 4-level paging with a 1 GiB page, a 2 MiB page, a 4 KiB page and holes
// (hvbios::TranslateGuestVirtual, which the walk and the debugger use).
TEST_F(StackWalkTest, TranslatesThroughTheGuestsPageTables) {
  Registers regs = {};
  regs.cr0 = 1ull << 31;
  regs.cr3 = 0x10000;
  memory_[0x10000] = 0x11000 | 1;               // PML4[0]
  memory_[0x11000] = 0x12000 | 1;               // PDPT[0]
  memory_[0x12000 + 2 * 8] = 0x1200000 | 0x81;  // PD[2]: 2 MiB page
  memory_[0x12000 + 3 * 8] = 0x13000 | 1;       // PD[3]: a PT
  memory_[0x13000 + 5 * 8] = 0x777000 | 1;      // PT[5]
  memory_[0x11000 + 8] = 0x80000000 | 0x81;     // PDPT[1]: 1 GiB page
  EXPECT_EQ(TranslateGuestVirtual(regs, Reader(), 0x400123), 0x1200123u);
  EXPECT_EQ(TranslateGuestVirtual(regs, Reader(), 0x605abc), 0x777abcu);
  EXPECT_EQ(TranslateGuestVirtual(regs, Reader(), 0x4abcdef0), 0x8abcdef0u);
  EXPECT_EQ(TranslateGuestVirtual(regs, Reader(), 0x604000), std::nullopt);
  EXPECT_EQ(TranslateGuestVirtual(regs, Reader(), 0x800000), std::nullopt);
  EXPECT_EQ(TranslateGuestVirtual(regs, Reader(), 0x8000000000), std::nullopt)
      << "PML4[1] is empty";
  regs.cr0 = 0;
  EXPECT_EQ(TranslateGuestVirtual(regs, Reader(), 0x605abc), 0x605abcu)
      << "paging off: identity";
}

}  // namespace
}  // namespace hvbios::run
