// hvbios::GdbServer on the scripted fake backend, driven by Debian's real
// gdb in batch mode: the target description, registers (and writing
// them), memory, threads, breakpoints found by single-step exits, steps,
// Ctrl-C-free stops, and the VM's end. The KVM test (tests/kvm/
// gdb_test.cc) runs the same stub on a real guest.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "hvbios/abi/hypercall.h"
#include "hvbios/debug.h"
#include "hvbios/gdb.h"
#include "lib/gdb_protocol.h"
#include "tests/elf_builder.h"
#include "tests/fake_backend.h"
#include "tests/gdb_session.h"
#include "tests/run_command.h"
#include "tests/test_util.h"

namespace hvbios {
namespace {

using testing::CommandResult;
using testing::FakeBackendVm;
using testing::FakeVcpuScript;
using testing::RunCommand;

class GdbServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto backend = std::make_unique<FakeBackendVm>();
    backend_ = backend.get();
    ASSERT_OK_AND_ASSIGN(
        vm_, Vm::Create(std::move(backend),
                        {.memory_bytes = 16 << 20, .vcpu_count = 2}));
    ASSERT_OK(vm_->LoadGuest(testing::ElfBuilder::Simple().Build()));
    script_ = backend_->Script(0);
    {
      hvbios::MutexLock lock(&script_->mu);
      Registers& r = script_->registers;
      r.rax = 0x1111, r.rbx = 0x2222, r.r15 = 0xf15;
      r.rflags = 0x202, r.cs = 0x8, r.ss = 0x10, r.ds = 0x10;
      r.fs_base = 0x7000, r.cr0 = 0x11, r.cr3 = 0x5000, r.efer = 0x500;
    }
    const char kMessage[] = "hello from guest memory";
    ASSERT_OK(vm_->WriteGuestMemory(0x200000, kMessage, sizeof(kMessage)));
    ASSERT_OK_AND_ASSIGN(listener_, GdbListen(0));
    ASSERT_OK_AND_ASSIGN(server_, GdbServer::Start(vm_.get(), listener_));
  }
  void TearDown() override {
    server_.reset();
    if (vm_ != nullptr) {
      vm_->Stop();
      (void)vm_->Wait(absl::Seconds(10));
    }
    if (listener_ >= 0) close(listener_);
  }

  CommandResult Gdb(const std::vector<std::string>& commands) {
    return RunCommand(testing::GdbBatch(server_->port(), "", commands), "",
                      120);
  }

  FakeBackendVm* backend_ = nullptr;
  std::shared_ptr<FakeVcpuScript> script_;
  std::unique_ptr<Vm> vm_;
  int listener_ = -1;
  std::unique_ptr<GdbServer> server_;
};

TEST_F(GdbServerTest, GdbReadsAndWritesRegistersAndMemory) {
  if (!testing::GdbInstalled()) GTEST_SKIP() << "needs gdb (Debian: gdb)";
  ASSERT_OK_AND_ASSIGN(Vcpu * boot, vm_->CreateVcpu(0));
  ASSERT_OK(boot->Start());
  const CommandResult gdb =
      Gdb({"info registers rax rbx r15 eflags cs ds", "p/x $fs_base",
           "p/x $cr3", "p/x $efer", "info registers st0", "x/s 0x200000",
           "set var $rbx = 0xabcdef", "set {char}0x200001 = 'E'",
           "x/s 0x200000", "monitor phys on", "x/s 0x200000", "x/x 0x7fff000",
           "info threads", "detach"});
  EXPECT_EQ(gdb.exit_status, 0) << gdb.out << gdb.err;
  for (const char* line :
       {"rax            0x1111", "rbx            0x2222",
        "r15            0xf15", "eflags         0x202", "cs             0x8",
        "ds             0x10", "$1 = 0x7000", "$2 = 0x5000", "$3 = 0x500",
        "st0            <unavailable>",
        "0x200000:\t\"hello from guest memory\"",
        "0x200000:\t\"hEllo from guest memory\"",
        "memory: guest-physical addresses",
        "Cannot access memory at address 0x7fff000",
        "Thread 1 (vCPU 0, paused)", "detached"}) {
    EXPECT_NE((gdb.out + gdb.err).find(line), std::string::npos)
        << "missing: " << line << "\n"
        << gdb.out << gdb.err;
  }
  // Its detach let the VM run on; its register write reached the vCPU.
  EXPECT_EQ(boot->state(), VcpuState::kRunning);
  ASSERT_OK(boot->Pause());
  ASSERT_OK_AND_ASSIGN(Registers regs, boot->GetRegisters());
  EXPECT_EQ(regs.rbx, 0xabcdefu);
  EXPECT_EQ(regs.rax, 0x1111u);
}

// Breakpoints are found among the vCPU's single-step exits (scripted
// here: the fake executes nothing); gdb steps over one by removing it and
// stepping, then the guest's power.shutdown ends the session as an exit.
TEST_F(GdbServerTest, BreakContinueStepAndTheGuestsExit) {
  if (!testing::GdbInstalled()) GTEST_SKIP() << "needs gdb (Debian: gdb)";
  ASSERT_OK(vm_->Pause());  // as --gdb-wait: nothing runs before gdb
  ASSERT_OK_AND_ASSIGN(Vcpu * boot, vm_->CreateVcpu(0));
  ASSERT_OK(boot->Start());
  for (uint64_t rip : {0x100004, 0x100008, 0x100010, 0x100014, 0x100018}) {
    script_->AddDebugStep(rip);
  }
  script_->AddHypercall(HVB_FN_POWER_SHUTDOWN, {7});
  const CommandResult gdb = Gdb({"break *0x100010", "continue", "p/x $pc",
                                 "stepi", "p/x $pc", "delete", "continue"});
  EXPECT_EQ(gdb.exit_status, 0) << gdb.out << gdb.err;
  for (const char* line :
       {"Breakpoint 1 at 0x100010", "Breakpoint 1, 0x0000000000100010",
        "$1 = 0x100010", "$2 = 0x100014",
        "[Inferior 1 (Remote target) exited with code 07]"}) {
    EXPECT_NE((gdb.out + gdb.err).find(line), std::string::npos)
        << "missing: " << line << "\n"
        << gdb.out << gdb.err;
  }
  ASSERT_OK_AND_ASSIGN(VmExit exit, vm_->Wait(absl::Seconds(10)));
  EXPECT_EQ(exit.reason, VmExit::Reason::kShutdown);
  EXPECT_EQ(exit.exit_code, 7);
}

// A panic stops in gdb with SIGABRT and the vCPU's registers; continuing
// then reports the end.
TEST_F(GdbServerTest, APanicStopsInGdbBeforeTheEnd) {
  if (!testing::GdbInstalled()) GTEST_SKIP() << "needs gdb (Debian: gdb)";
  ASSERT_OK(vm_->Pause());
  ASSERT_OK_AND_ASSIGN(Vcpu * boot, vm_->CreateVcpu(0));
  ASSERT_OK(boot->Start());
  const char kMessage[] = "it broke";
  ASSERT_OK(vm_->WriteGuestMemory(0x300000, kMessage, sizeof(kMessage) - 1));
  script_->AddHypercall(HVB_FN_DEBUG_PANIC,
                        {9, 0x300000, sizeof(kMessage) - 1});
  const CommandResult gdb = Gdb({"continue", "p/x $rbx", "continue"});
  EXPECT_EQ(gdb.exit_status, 0) << gdb.out << gdb.err;
  for (const char* line : {"Program received signal SIGABRT", "$1 = 0x2222",
                           "Program terminated with signal SIGABRT"}) {
    EXPECT_NE((gdb.out + gdb.err).find(line), std::string::npos)
        << "missing: " << line << "\n"
        << gdb.out << gdb.err;
  }
  EXPECT_TRUE(server_->WaitUntilDisconnected(absl::Seconds(10)));
}

TEST_F(GdbServerTest, HostileBytesGetErrorsNotCrashes) {
  ASSERT_OK(vm_->Pause());
  ASSERT_OK_AND_ASSIGN(Vcpu * boot, vm_->CreateVcpu(0));
  ASSERT_OK(boot->Start());
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_port = htons(server_->port());
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)),
            0);
  auto send_raw = [&](const std::string& bytes) {
    EXPECT_EQ(send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  };
  gdb::PacketReader reader;
  auto receive = [&]() -> std::string {
    char buffer[4096];
    for (;;) {
      while (std::optional<gdb::PacketReader::Item> item = reader.Next()) {
        if (item->kind == gdb::PacketReader::Item::Kind::kPacket) {
          return item->payload;
        }
      }
      const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
      if (n <= 0) return "<closed>";
      reader.Feed(absl::string_view(buffer, n));
    }
  };
  // Framed as sent, unescaped: hostile bytes reach the stub as they are.
  auto exchange = [&](const std::string& payload) {
    uint8_t sum = 0;
    for (char c : payload) sum += static_cast<uint8_t>(c);
    send_raw(absl::StrFormat("$%s#%02x", payload, sum));
    return receive();
  };
  EXPECT_EQ(exchange("QStartNoAckMode"), "OK");
  EXPECT_EQ(exchange("?"), "T05thread:1;");
  EXPECT_EQ(exchange("m100000,ffffffff"), "E01") << "too long";
  EXPECT_EQ(exchange("mzz,4"), "E01");
  EXPECT_EQ(exchange("m100000"), "E01");
  EXPECT_EQ(exchange("m7fffffffffff,4"), "E0e");
  EXPECT_EQ(exchange("M100000,2:41"), "E01") << "length mismatch";
  EXPECT_EQ(exchange("X100000,0:"), "OK");
  EXPECT_EQ(exchange("X100000,1:}"), "E01") << "dangling escape";
  EXPECT_EQ(exchange("p999"), "E01");
  EXPECT_EQ(exchange("P12=00000000"), "E01") << "cs is read-only";
  EXPECT_EQ(exchange("Gzz"), "E01");
  EXPECT_EQ(exchange("Hg5"), "E01") << "no such thread";
  EXPECT_EQ(exchange("T9"), "E01");
  EXPECT_EQ(exchange("Z2,100000,1"), "") << "watchpoints: left to gdb";
  EXPECT_EQ(exchange("Z0,zz,1"), "E01");
  EXPECT_EQ(exchange("vCont;s:9"), "E01");
  EXPECT_EQ(exchange("vCont;t"), "");
  EXPECT_EQ(exchange("qXfer:features:read:target.xml:zz"), "E00");
  EXPECT_EQ(exchange("qXfer:features:read:target.xml:ffffff,10"), "l");
  EXPECT_EQ(exchange("qRcmd,zz"), "E01");
  EXPECT_EQ(exchange("bogus"), "");
  EXPECT_EQ(exchange(""), "") << "an empty packet";
  // Running, then the interrupt byte (Ctrl-C): stopped with SIGINT.
  send_raw(gdb::Frame("vCont;c"));
  send_raw("\x03");
  EXPECT_EQ(receive(), "T02thread:1;");
  EXPECT_EQ(exchange("D"), "OK");
  close(fd);
  EXPECT_TRUE(server_->WaitUntilDisconnected(absl::Seconds(10)));
  EXPECT_EQ(boot->state(), VcpuState::kRunning) << "detached: it runs on";
}

}  // namespace
}  // namespace hvbios
