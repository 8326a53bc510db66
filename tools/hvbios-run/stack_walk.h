// A guest's stack as hvbios-run reports it when the guest panics or dies:
// the instruction it was at, the return address on top of its stack (a
// call into the hypercall page leaves one there), then the frame-pointer
// chain, each named from the guest ELF's symbol table when it has one.
// Frames are followed only while they look like frames (rbp above the
// stack pointer, 8-byte aligned, within 1 MiB, going up): a guest built
// without frame pointers gets the first two lines and no garbage.
#ifndef HVBIOS_TOOLS_HVBIOS_RUN_STACK_WALK_H_
#define HVBIOS_TOOLS_HVBIOS_RUN_STACK_WALK_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "hvbios/backend.h"
#include "hvbios/debug.h"

namespace hvbios::run {

// Function symbols of an ELF image (its .symtab), for names of addresses.
class Symbols {
 public:
  // Reads `image`'s function symbols; none if it has no symbol table or
  // is malformed (it was loaded already: that is not an error here).
  explicit Symbols(absl::Span<const uint8_t> image);
  // "name+0x1c" for an address inside a function, "" otherwise.
  std::string Describe(uint64_t address) const;
  // The same for a return address, which is named by the call before it:
  // a call to a function that never returns (hvb_panic) may be the last
  // instruction of its caller, its return address past the caller's end.
  std::string DescribeReturn(uint64_t address) const;
  size_t size() const { return functions_.size(); }

 private:
  struct Function {
    uint64_t start, size;
    std::string name;
  };
  const Function* Find(uint64_t address) const;
  std::vector<Function> functions_;  // by start
};

using ReadPhysical = ReadPhysical64;

// Lines "  #0 0x1004e7 hvb_main+0x27", at most `max_frames`.
std::string DescribeStack(const Registers& regs, const ReadPhysical& read,
                          const Symbols& symbols, int max_frames = 16);

}  // namespace hvbios::run

#endif  // HVBIOS_TOOLS_HVBIOS_RUN_STACK_WALK_H_
