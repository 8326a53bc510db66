#include "lib/console_output.h"

#include <atomic>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "hvbios/internal/mutex.h"
#include "lib/threads.h"

namespace hvbios {
namespace {

TEST(ConsoleOutputTest, DeliversCopiesInOrder) {
  std::string received;
  {
    ConsoleOutput output([&](absl::string_view bytes) {
      received.append(bytes.data(), bytes.size());
    });
    std::string guest = "hello, ";
    EXPECT_EQ(output.Write(guest, absl::ZeroDuration()), guest.size());
    guest = "world";  // the guest reuses its buffer: the copy stands
    EXPECT_EQ(output.Write(guest, absl::ZeroDuration()), guest.size());
    EXPECT_TRUE(output.AwaitDelivered(absl::Seconds(30)));
  }
  EXPECT_EQ(received, "hello, world");
}

TEST(ConsoleOutputTest, WithoutASinkEverythingIsTakenAndDropped) {
  ConsoleOutput output(nullptr);
  EXPECT_EQ(output.Write("abc", absl::ZeroDuration()), 3u);
  EXPECT_TRUE(output.AwaitDelivered(absl::ZeroDuration()));
}

// A sink that does not return: writers are held back once the buffer is
// full (never blocked for good), and Interrupt() releases a waiting one.
TEST(ConsoleOutputTest, AStuckSinkHoldsWritersBackWithoutBlockingThem) {
  absl::Notification release, entered;
  std::atomic<bool> in_callback{false};
  ConsoleOutput output(
      [&](absl::string_view) {
        in_callback = CallbackScope::Active();
        if (!entered.HasBeenNotified()) entered.Notify();
        release.WaitForNotification();
      },
      /*capacity=*/16);
  EXPECT_EQ(output.Write("0123456789", absl::ZeroDuration()), 10u);
  entered.WaitForNotification();  // the sink holds those 10 bytes
  EXPECT_TRUE(in_callback) << "the sink runs as a callback";
  EXPECT_EQ(output.Write("0123456789abcdefXYZ", absl::ZeroDuration()), 16u);
  EXPECT_EQ(output.Write("more", absl::Milliseconds(1)), 0u) << "congested";
  EXPECT_FALSE(output.AwaitDelivered(absl::Milliseconds(1)));

  std::atomic<size_t> taken{99};
  std::thread writer([&] { taken = output.Write("x", absl::Hours(1)); });
  absl::SleepFor(absl::Milliseconds(20));
  output.Interrupt();  // as a pause request does
  writer.join();
  EXPECT_EQ(taken, 0u);

  release.Notify();
  EXPECT_TRUE(output.AwaitDelivered(absl::Seconds(30)));
  EXPECT_EQ(output.Write("room again", absl::ZeroDuration()), 10u);
}

// Destruction waits a little for the sink, not for ever: a sink that never
// returns is left behind (it must not touch its owner once it does).
TEST(ConsoleOutputTest, DestroyingDoesNotWaitForAStuckSink) {
  auto release = std::make_shared<absl::Notification>();
  auto entered = std::make_shared<absl::Notification>();
  const absl::Time start = absl::Now();
  {
    ConsoleOutput output([release, entered](absl::string_view) {
      if (!entered->HasBeenNotified()) entered->Notify();
      release->WaitForNotification();
    });
    EXPECT_EQ(output.Write("stuck", absl::ZeroDuration()), 5u);
    entered->WaitForNotification();
  }
  EXPECT_LT(absl::Now() - start, absl::Minutes(1)) << "a hang, not a grace";
  release->Notify();  // the left-behind thread ends on its own
}

}  // namespace
}  // namespace hvbios
