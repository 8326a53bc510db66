// The net service through the dispatcher on a fake VM, with real links: a
// socketpair (the descriptor path hvbios-run's links take) and the
// embedder's callbacks. Every check in the specification's order, the
// receive queue's bound, and the receive event.
#include "lib/services/net.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "hvbios/abi/hypercall.h"
#include "hvbios/abi/net.h"
#include "hvbios/abi/status.h"
#include "lib/services/services.h"
#include "tests/fake_service_context.h"
#include "tests/test_util.h"

namespace hvbios {
namespace {

using testing::FakeServiceContext;

constexpr uint64_t kRam = 2 << 20;
constexpr uint64_t kBuf = 0x10000;

std::vector<uint8_t> Frame(size_t length, uint8_t seed) {
  std::vector<uint8_t> f(length);
  for (size_t i = 0; i < length; ++i) f[i] = static_cast<uint8_t>(seed + i * 7);
  return f;
}

class NetServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_DGRAM, 0, fds), 0);
    host_end_ = fds[1];
    ASSERT_OK_AND_ASSIGN(std::shared_ptr<NetLink> link, MakeSocketLink(fds[0]));
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<GuestMemory> memory,
                         GuestMemory::Create(kRam));
    ctx_ = std::make_unique<FakeServiceContext>(std::move(memory), 2);
    ServicesOptions options;
    options.nets.push_back(
        {.link = std::move(link), .mac = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55}});
    services_ = std::make_unique<Services>(*ctx_, std::move(options));
    ASSERT_OK(services_->Start());
  }
  void TearDown() override {
    services_.reset();
    close(host_end_);
  }
  HypercallResult Call(uint64_t fid, std::vector<uint64_t> args) {
    HypercallArgs a = {};
    a.fid = fid;
    for (size_t i = 0; i < args.size(); ++i) a.arg[i] = args[i];
    return services_->Dispatch(0, a);
  }
  // Sends `frame` from the host end and waits until the guest can take it.
  void Arrive(const std::vector<uint8_t>& frame) {
    ASSERT_EQ(write(host_end_, frame.data(), frame.size()),
              static_cast<ssize_t>(frame.size()));
  }
  // Receives into kBuf, polling until a frame is there (bounded).
  HypercallResult RecvWaiting(uint64_t capacity = HVB_NET_MAX_FRAME) {
    HypercallResult r;
    for (int i = 0; i < 3000; ++i) {
      r = Call(HVB_FN_NET_RECV, {0, kBuf, capacity});
      if (r.status != HVB_ERR_AGAIN) return r;
      usleep(1000);
    }
    return r;
  }
  std::vector<uint8_t> GuestBytes(uint64_t gpa, size_t length) {
    std::vector<uint8_t> bytes(length);
    EXPECT_TRUE(ctx_->memory().Read(gpa, bytes.data(), length));
    return bytes;
  }

  int host_end_ = -1;
  std::unique_ptr<FakeServiceContext> ctx_;
  std::unique_ptr<Services> services_;
};

TEST_F(NetServiceTest, InfoReportsTheDevice) {
  ASSERT_EQ(Call(HVB_FN_NET_INFO, {0, kBuf}).status, HVB_OK);
  hvb_net_info info;
  ASSERT_TRUE(ctx_->memory().Read(kBuf, &info, sizeof(info)));
  const uint8_t mac[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
  EXPECT_EQ(std::memcmp(info.mac, mac, 6), 0);
  EXPECT_EQ(info.flags, HVB_NET_F_LINK_UP);
  EXPECT_EQ(info.mtu, HVB_NET_MTU);
  EXPECT_EQ(info.max_frame, HVB_NET_MAX_FRAME);
  EXPECT_EQ(info.reserved[0] | info.reserved[1], 0u);
  EXPECT_EQ(Call(HVB_FN_NET_INFO, {1, kBuf}).status, HVB_ERR_NODEV);
  EXPECT_EQ(Call(HVB_FN_NET_INFO, {UINT64_MAX, kBuf}).status, HVB_ERR_NODEV);
  EXPECT_EQ(Call(HVB_FN_NET_INFO, {0, kRam - 16}).status, HVB_ERR_FAULT);
}

TEST_F(NetServiceTest, SendHandsTheExactFrameToTheLink) {
  for (size_t length :
       {size_t{HVB_NET_MIN_FRAME}, size_t{60}, size_t{HVB_NET_MAX_FRAME}}) {
    const std::vector<uint8_t> frame = Frame(length, 3);
    ASSERT_TRUE(ctx_->memory().Write(kBuf, frame.data(), frame.size()));
    ASSERT_EQ(Call(HVB_FN_NET_SEND, {0, kBuf, length}).status, HVB_OK);
    std::vector<uint8_t> got(HVB_NET_MAX_FRAME + 100);
    const ssize_t n = read(host_end_, got.data(), got.size());
    ASSERT_EQ(n, static_cast<ssize_t>(length));
    got.resize(n);
    EXPECT_EQ(got, frame);
  }
}

TEST_F(NetServiceTest, SendChecksInTheSpecificationsOrder) {
  // NODEV, then the length (INVAL), then the buffer (FAULT).
  EXPECT_EQ(Call(HVB_FN_NET_SEND, {1, kRam, 0}).status, HVB_ERR_NODEV);
  EXPECT_EQ(Call(HVB_FN_NET_SEND, {0, kRam, 0}).status, HVB_ERR_INVAL);
  EXPECT_EQ(Call(HVB_FN_NET_SEND, {0, kBuf, HVB_NET_MIN_FRAME - 1}).status,
            HVB_ERR_INVAL);
  EXPECT_EQ(Call(HVB_FN_NET_SEND, {0, kBuf, HVB_NET_MAX_FRAME + 1}).status,
            HVB_ERR_INVAL);
  EXPECT_EQ(Call(HVB_FN_NET_SEND, {0, kBuf, UINT64_MAX}).status, HVB_ERR_INVAL);
  EXPECT_EQ(Call(HVB_FN_NET_SEND, {0, kRam - 20, 60}).status, HVB_ERR_FAULT);
  EXPECT_EQ(Call(HVB_FN_NET_SEND, {0, UINT64_MAX - 10, 60}).status,
            HVB_ERR_FAULT);
  pollfd p = {host_end_, POLLIN, 0};
  EXPECT_EQ(poll(&p, 1, 0), 0) << "nothing refused reached the link";
}

TEST_F(NetServiceTest, RecvTakesFramesInOrderAndChecksItsBuffer) {
  EXPECT_EQ(Call(HVB_FN_NET_RECV, {0, kBuf, HVB_NET_MAX_FRAME}).status,
            HVB_ERR_AGAIN);
  EXPECT_EQ(Call(HVB_FN_NET_RECV, {1, kBuf, HVB_NET_MAX_FRAME}).status,
            HVB_ERR_NODEV);
  // The buffer is checked whole, frame or not.
  EXPECT_EQ(Call(HVB_FN_NET_RECV, {0, kRam - 100, HVB_NET_MAX_FRAME}).status,
            HVB_ERR_FAULT);
  const std::vector<uint8_t> a = Frame(100, 1), b = Frame(HVB_NET_MAX_FRAME, 2);
  Arrive(a);
  Arrive(b);
  HypercallResult r = RecvWaiting();
  ASSERT_EQ(r.status, HVB_OK);
  ASSERT_EQ(r.value, a.size());
  EXPECT_EQ(GuestBytes(kBuf, a.size()), a);
  // Too small a buffer leaves the frame waiting.
  r = RecvWaiting(HVB_NET_MAX_FRAME - 1);
  EXPECT_EQ(r.status, HVB_ERR_RANGE);
  EXPECT_EQ(Call(HVB_FN_NET_RECV, {0, kBuf, 0}).status, HVB_ERR_RANGE);
  r = Call(HVB_FN_NET_RECV, {0, kBuf, HVB_NET_MAX_FRAME});
  ASSERT_EQ(r.status, HVB_OK);
  ASSERT_EQ(r.value, b.size());
  EXPECT_EQ(GuestBytes(kBuf, b.size()), b);
  EXPECT_EQ(Call(HVB_FN_NET_RECV, {0, kBuf, HVB_NET_MAX_FRAME}).status,
            HVB_ERR_AGAIN);
}

TEST_F(NetServiceTest, FramesTheGuestCannotTakeNeverArrive) {
  // Runts and oversize frames from the link are dropped by the link; the
  // next good frame is the one the guest gets.
  Arrive(Frame(HVB_NET_MIN_FRAME - 1, 1));
  Arrive(Frame(HVB_NET_MAX_FRAME + 1, 2));
  const std::vector<uint8_t> good = Frame(64, 3);
  Arrive(good);
  const HypercallResult r = RecvWaiting();
  ASSERT_EQ(r.status, HVB_OK);
  EXPECT_EQ(r.value, good.size());
  EXPECT_EQ(GuestBytes(kBuf, good.size()), good);
}

TEST_F(NetServiceTest, AFloodIsBoundedAndCounted) {
  // The receive queue holds kNetRxQueueFrames; more are dropped, not
  // buffered without bound.
  const uint32_t sent = kNetRxQueueFrames + 40;
  for (uint32_t i = 0; i < sent; ++i) {
    std::vector<uint8_t> f = Frame(60, 0);
    std::memcpy(f.data(), &i, sizeof(i));
    Arrive(f);
  }
  // Wait until the link's thread has read everything.
  for (int i = 0;
       i < 3000 && services_->net().rx_dropped(0) < sent - kNetRxQueueFrames;
       ++i) {
    usleep(1000);
  }
  EXPECT_EQ(services_->net().rx_dropped(0), sent - kNetRxQueueFrames);
  for (uint32_t i = 0; i < kNetRxQueueFrames; ++i) {
    const HypercallResult r = Call(HVB_FN_NET_RECV, {0, kBuf, 60});
    ASSERT_EQ(r.status, HVB_OK) << i;
    uint32_t id;
    ASSERT_TRUE(ctx_->memory().Read(kBuf, &id, sizeof(id)));
    EXPECT_EQ(id, i) << "the oldest frames are kept, in order";
  }
  EXPECT_EQ(Call(HVB_FN_NET_RECV, {0, kBuf, 60}).status, HVB_ERR_AGAIN);
}

uint64_t TakeEventCount(int eventfd) {
  uint64_t count = 0;
  if (read(eventfd, &count, sizeof(count)) != sizeof(count)) return 0;
  return count;
}

TEST_F(NetServiceTest, AFrameAtAnEmptyQueueRaisesTheReceiveEvent) {
  ASSERT_EQ(Call(HVB_FN_EVENT_ROUTE, {HVB_EVENT_SRC_NET_RX(0), 1, 0x50}).status,
            HVB_OK);
  const auto fds = ctx_->fake_backend().interrupt_fds();
  ASSERT_EQ(fds.size(), 1u);
  const int irqfd = fds.begin()->first;
  EXPECT_EQ(fds.begin()->second, std::make_pair(1u, uint8_t{0x50}));
  EXPECT_EQ(TakeEventCount(irqfd), 0u) << "no frame, no event";
  Arrive(Frame(60, 1));
  ASSERT_EQ(RecvWaiting().status, HVB_OK);
  EXPECT_EQ(TakeEventCount(irqfd), 1u);
  // A frame waiting when the source is unmasked raises one event then.
  ASSERT_EQ(Call(HVB_FN_EVENT_MASK, {HVB_EVENT_SRC_NET_RX(0)}).status, HVB_OK);
  Arrive(Frame(60, 2));
  // Waiting (a buffer of 0 bytes is too small for it: RANGE, not AGAIN).
  for (int i = 0;
       i < 3000 && Call(HVB_FN_NET_RECV, {0, kBuf, 0}).status != HVB_ERR_RANGE;
       ++i) {
    usleep(1000);
  }
  EXPECT_EQ(TakeEventCount(irqfd), 0u) << "held while masked";
  ASSERT_EQ(Call(HVB_FN_EVENT_UNMASK, {HVB_EVENT_SRC_NET_RX(0)}).status,
            HVB_OK);
  EXPECT_EQ(TakeEventCount(irqfd), 1u);
}

// A ring at kRing as the guest sees it: it posts requests and reads
// completions through guest memory.
constexpr uint64_t kRing = 0x20000;
class NetRingTest : public NetServiceTest {
 protected:
  void Post(uint64_t ring, uint8_t op, uint32_t count, uint64_t buf,
            uint64_t tag) {
    hvb_ring_header h;
    ASSERT_TRUE(ctx_->memory().Read(ring, &h, sizeof(h)));
    hvb_ring_request r = {};
    r.op = op;
    r.count = count;
    r.buf = buf;
    r.tag = tag;
    ASSERT_TRUE(ctx_->memory().Write(
        ring + HVB_RING_SQ_OFFSET + (h.sq_tail % h.entries) * sizeof(r), &r,
        sizeof(r)));
    const uint32_t tail = h.sq_tail + 1;
    ASSERT_TRUE(ctx_->memory().Write(ring + 4, &tail, sizeof(tail)));
  }
  hvb_ring_header Header(uint64_t ring) {
    hvb_ring_header h;
    EXPECT_TRUE(ctx_->memory().Read(ring, &h, sizeof(h)));
    return h;
  }
  hvb_ring_completion Completion(uint64_t ring, uint32_t index) {
    const hvb_ring_header h = Header(ring);
    hvb_ring_completion c = {};
    EXPECT_TRUE(ctx_->memory().Read(
        ring + HVB_RING_CQ_OFFSET(h.entries) + (index % h.entries) * sizeof(c),
        &c, sizeof(c)));
    return c;
  }
  // Polls cq_tail as a guest does (an acquire load), then observes what
  // the platform published with it.
  uint32_t CompletedBy(uint64_t ring, uint32_t want) {
    auto* header = reinterpret_cast<hvb_ring_header*>(
        ctx_->memory().Translate(ring, sizeof(hvb_ring_header)));
    uint32_t tail = 0;
    for (int i = 0; i < 3000; ++i) {
      tail = __atomic_load_n(&header->cq_tail, __ATOMIC_ACQUIRE);
      if (tail >= want) break;
      usleep(1000);
    }
    ctx_->memory().ObserveGuest();
    return tail;
  }
};

TEST_F(NetRingTest, SetupChecksInTheSpecificationsOrder) {
  EXPECT_EQ(Call(HVB_FN_NET_QUEUE_SETUP, {1, kRing, 8, 0}).status,
            HVB_ERR_NODEV);
  EXPECT_EQ(Call(HVB_FN_NET_QUEUE_SETUP, {0, kRing, 6, 0}).status,
            HVB_ERR_INVAL);
  EXPECT_EQ(
      Call(HVB_FN_NET_QUEUE_SETUP, {0, kRing, (1ull << 32) | 8, 0}).status,
      HVB_ERR_INVAL)
      << "entries is checked whole, not truncated";
  EXPECT_EQ(Call(HVB_FN_NET_QUEUE_SETUP, {0, kRam - 4096, 256, 0}).status,
            HVB_ERR_FAULT);
  EXPECT_EQ(Call(HVB_FN_NET_QUEUE_SETUP, {0, kRing, 8, 2}).status,
            HVB_ERR_INVAL);
  const HypercallResult tx = Call(HVB_FN_NET_QUEUE_SETUP, {0, kRing, 8, 0});
  ASSERT_EQ(tx.status, HVB_OK);
  EXPECT_EQ(Call(HVB_FN_NET_QUEUE_SETUP, {0, kRing + 0x1000, 8, 0}).status,
            HVB_ERR_BUSY);
  const HypercallResult rx =
      Call(HVB_FN_NET_QUEUE_SETUP, {0, kRing + 0x1000, 8, 1});
  ASSERT_EQ(rx.status, HVB_OK);
  EXPECT_NE(rx.value, tx.value) << "queue ids are one space";
  EXPECT_EQ(
      Call(HVB_FN_EVENT_ROUTE, {HVB_EVENT_SRC_QUEUE(rx.value), 0, 40}).status,
      HVB_OK);
}

TEST_F(NetRingTest, ATransmitRingSendsEachFrameAndCompletesIt) {
  const HypercallResult q = Call(HVB_FN_NET_QUEUE_SETUP, {0, kRing, 8, 0});
  ASSERT_EQ(q.status, HVB_OK);
  const std::vector<uint8_t> a = Frame(60, 1), b = Frame(HVB_NET_MAX_FRAME, 2);
  ASSERT_TRUE(ctx_->memory().Write(kBuf, a.data(), a.size()));
  ASSERT_TRUE(ctx_->memory().Write(kBuf + 0x1000, b.data(), b.size()));
  Post(kRing, HVB_RING_OP_NET_SEND, 60, kBuf, 10);
  Post(kRing, HVB_RING_OP_NET_SEND, 13, kBuf, 11);  // a runt
  Post(kRing, HVB_RING_OP_NET_SEND, 60, kRam - 20, 12);
  Post(kRing, HVB_RING_OP_NET_RECV, 60, kBuf, 13);  // the wrong op
  Post(kRing, HVB_RING_OP_NET_SEND, HVB_NET_MAX_FRAME, kBuf + 0x1000, 14);
  services_->Doorbell(q.value);
  ASSERT_EQ(Header(kRing).cq_tail, 5u);
  const int64_t want[] = {60, HVB_ERR_INVAL, HVB_ERR_FAULT, HVB_ERR_INVAL,
                          HVB_NET_MAX_FRAME};
  for (uint32_t i = 0; i < 5; ++i) {
    EXPECT_EQ(Completion(kRing, i).tag, 10u + i);
    EXPECT_EQ(Completion(kRing, i).status, want[i]) << i;
  }
  EXPECT_EQ(Header(kRing).errors, 3u);
  for (const std::vector<uint8_t>* f : {&a, &b}) {
    std::vector<uint8_t> got(2048);
    const ssize_t n = read(host_end_, got.data(), got.size());
    got.resize(n < 0 ? 0 : n);
    EXPECT_EQ(got, *f);
  }
  pollfd p = {host_end_, POLLIN, 0};
  EXPECT_EQ(poll(&p, 1, 0), 0) << "the refused requests sent nothing";
}

TEST_F(NetRingTest, AReceiveRingFillsItsBuffersAsFramesArrive) {
  const HypercallResult q = Call(HVB_FN_NET_QUEUE_SETUP, {0, kRing, 8, 1});
  ASSERT_EQ(q.status, HVB_OK);
  // A frame that arrives before any buffer waits for one.
  const std::vector<uint8_t> early = Frame(70, 5);
  Arrive(early);
  ASSERT_EQ(RecvWaiting(0).status, HVB_ERR_RANGE) << "it is waiting";
  Post(kRing, HVB_RING_OP_NET_RECV, HVB_NET_MAX_FRAME, kBuf, 0);
  Post(kRing, HVB_RING_OP_NET_RECV, 20, kBuf + 0x1000, 1);   // too small
  Post(kRing, HVB_RING_OP_NET_RECV, 100, kRam - 50, 2);      // not RAM
  Post(kRing, HVB_RING_OP_NET_SEND, 100, kBuf + 0x2000, 3);  // the wrong op
  Post(kRing, HVB_RING_OP_NET_RECV, 100, kBuf + 0x3000, 4);
  Post(kRing, HVB_RING_OP_NET_RECV, 100, kBuf + 0x4000, 5);
  services_->Doorbell(q.value);
  ASSERT_EQ(Header(kRing).cq_tail, 1u) << "the early frame, at once";
  EXPECT_EQ(Completion(kRing, 0).status, 70);
  EXPECT_EQ(GuestBytes(kBuf, early.size()), early);
  const std::vector<uint8_t> next = Frame(90, 6), last = Frame(40, 7);
  Arrive(next);
  ASSERT_EQ(CompletedBy(kRing, 5), 5u);
  const int64_t want[] = {70, HVB_ERR_RANGE, HVB_ERR_FAULT, HVB_ERR_INVAL, 90};
  for (uint32_t i = 0; i < 5; ++i) {
    EXPECT_EQ(Completion(kRing, i).tag, i);
    EXPECT_EQ(Completion(kRing, i).status, want[i]) << i;
  }
  EXPECT_EQ(GuestBytes(kBuf + 0x3000, next.size()), next)
      << "the frame went to the first buffer that could take it";
  Arrive(last);
  ASSERT_EQ(CompletedBy(kRing, 6), 6u);
  EXPECT_EQ(Completion(kRing, 5).status, 40);
  EXPECT_EQ(GuestBytes(kBuf + 0x4000, last.size()), last);
  EXPECT_EQ(Call(HVB_FN_NET_RECV, {0, kBuf, HVB_NET_MAX_FRAME}).status,
            HVB_ERR_AGAIN)
      << "nothing was left behind";
}

TEST_F(NetRingTest, AGuestThatBreaksTheIndexRulesBreaksOnlyItsRing) {
  const HypercallResult q = Call(HVB_FN_NET_QUEUE_SETUP, {0, kRing, 4, 0});
  ASSERT_EQ(q.status, HVB_OK);
  const uint32_t bogus_tail = 1000;
  ASSERT_TRUE(ctx_->memory().Write(kRing + 4, &bogus_tail, 4));
  services_->Doorbell(q.value);
  EXPECT_NE(uint32_t{Header(kRing).error}, 0u);
  EXPECT_EQ(Header(kRing).cq_tail, 0u);
  // The device still works through the synchronous calls.
  ASSERT_TRUE(ctx_->memory().Write(kBuf, Frame(60, 1).data(), 60));
  EXPECT_EQ(Call(HVB_FN_NET_SEND, {0, kBuf, 60}).status, HVB_OK);
  services_->Doorbell(12345);  // no such queue: ignored
}

TEST(NetLinkTest, CallbackLinksCarryFramesBothWays) {
  std::vector<std::vector<uint8_t>> sent;
  ASSERT_OK_AND_ASSIGN(
      std::shared_ptr<NetCallbackLink> link,
      MakeCallbackNetLink({.send = [&](absl::Span<const uint8_t> f) {
        sent.emplace_back(f.begin(), f.end());
        return sent.size() == 2 ? absl::UnavailableError("full")
                                : absl::OkStatus();
      }}));
  EXPECT_FALSE(link->Deliver(Frame(60, 0))) << "no VM attached";
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<GuestMemory> memory,
                       GuestMemory::Create(kRam));
  FakeServiceContext ctx(std::move(memory), 1);
  {
    ServicesOptions options;
    options.nets.push_back({.link = link});
    Services services(ctx, std::move(options));
    ASSERT_OK(services.Start());
    HypercallArgs a = {.fid = HVB_FN_NET_SEND, .arg = {0, kBuf, 60}};
    EXPECT_EQ(services.Dispatch(0, a).status, HVB_OK);
    EXPECT_EQ(services.Dispatch(0, a).status, HVB_ERR_AGAIN)
        << "Unavailable is the guest's AGAIN";
    EXPECT_EQ(sent.size(), 2u);
    EXPECT_FALSE(link->Deliver(Frame(13, 0))) << "a runt";
    EXPECT_TRUE(link->Deliver(Frame(70, 4)));
    a = {.fid = HVB_FN_NET_RECV, .arg = {0, kBuf, HVB_NET_MAX_FRAME}};
    const HypercallResult r = services.Dispatch(0, a);
    EXPECT_EQ(r.status, HVB_OK);
    EXPECT_EQ(r.value, 70u);
    // A second VM cannot attach the link while the first has it.
    Services other(ctx, {.nets = {{.link = link}}});
    EXPECT_EQ(other.Start().code(), absl::StatusCode::kFailedPrecondition);
  }
  EXPECT_FALSE(link->Deliver(Frame(60, 0))) << "detached with its VM";
}

TEST(NetLinkTest, MacAddressesParseStrictly) {
  ASSERT_OK_AND_ASSIGN(auto mac, ParseMacAddress("52:54:00:12:ab:CD"));
  EXPECT_EQ(mac, (std::array<uint8_t, 6>{0x52, 0x54, 0x00, 0x12, 0xab, 0xcd}));
  for (const char* bad :
       {"", "52:54:00:12:34", "52:54:00:12:34:56:78", "5:54:00:12:34:56",
        "52-54-00-12-34-56", "zz:54:00:12:34:56", "01:00:5e:00:00:01"}) {
    EXPECT_FALSE(ParseMacAddress(bad).ok()) << bad;
  }
  const std::array<uint8_t, 6> random = RandomMacAddress();
  EXPECT_EQ(random[0] & 3, 2) << "locally administered unicast";
}

TEST(NetLinkTest, LinksRefuseWhatTheyCannotUse) {
  EXPECT_EQ(MakeSocketLink(-1).status().code(),
            absl::StatusCode::kInvalidArgument);
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  EXPECT_EQ(MakeSocketLink(fds[0]).status().code(),
            absl::StatusCode::kInvalidArgument)
      << "a stream has no frame boundaries";
  close(fds[1]);
  EXPECT_EQ(OpenTapLink("").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenTapLink("a-name-too-long-for-linux").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenUnixDatagramLink("/etc/hostname", "/tmp/x").status().code(),
            absl::StatusCode::kAlreadyExists)
      << "never replaces a file that is not a socket";
  EXPECT_FALSE(MakeCallbackNetLink({}).ok());
}

TEST(NetLinkTest, UnixDatagramLinksCarryFramesBetweenTwoEnds) {
  const std::string dir = ::testing::TempDir();
  const std::string a_path = dir + "/net-a.sock", b_path = dir + "/net-b.sock";
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<NetLink> a,
                       OpenUnixDatagramLink(a_path, b_path));
  // Nothing at the other end yet: the frame is lost, not an error.
  EXPECT_OK(a->Send(Frame(60, 1)));
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<NetLink> b,
                       OpenUnixDatagramLink(b_path, a_path));
  Mutex mu;
  std::vector<std::vector<uint8_t>> got;
  ASSERT_OK(b->Attach([&](absl::Span<const uint8_t> f) {
    MutexLock lock(&mu);
    got.emplace_back(f.begin(), f.end());
  }));
  EXPECT_EQ(b->Attach([](absl::Span<const uint8_t>) {}).code(),
            absl::StatusCode::kFailedPrecondition);
  const std::vector<uint8_t> frame = Frame(HVB_NET_MAX_FRAME, 9);
  EXPECT_OK(a->Send(frame));
  {
    MutexLock lock(&mu);
    mu.AwaitWithTimeout([&] { return !got.empty(); }, absl::Seconds(30));
  }
  b->Detach();
  {
    MutexLock lock(&mu);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], frame);
  }
  // A socket file left behind is replaced by the next link at its path.
  a.reset();
  ASSERT_OK_AND_ASSIGN(a, OpenUnixDatagramLink(a_path, b_path));
}

}  // namespace
}  // namespace hvbios
