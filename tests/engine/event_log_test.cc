#include "engine/event_log.h"

#include <simdjson.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/metrics.h"
#include "engine/delivery_event.h"
#include "gtest/gtest.h"

namespace sluice::engine {
namespace {

// --- FormatEventJson ------------------------------------------------------------

DeliveryEvent SampleEvent() {
  DeliveryEvent e;
  e.type = DeliveryEventType::kBounced;
  e.time = absl::FromUnixMillis(1'800'000'000'123);
  e.message_id = common::MessageId::FromParts(1'800'000'000'000, 7, 1, 42);
  e.recipient = "bob@example.com";
  e.sender = "alice@example.org";
  e.domain = "example.com";
  e.site = "mx.example.com";
  e.remote_host = "mx1.example.com";
  e.remote_ip = "192.0.2.10";
  e.tls_version = "TLSv1.3";
  e.tls_cipher = "TLS_AES_128_GCM_SHA256";
  e.reply = "550 5.1.1 no such user";
  e.status = "5.1.1";
  e.category = "bad-mailbox";
  e.attempt = 3;
  e.connect_time = absl::Microseconds(12500);
  e.tls_time = absl::Milliseconds(30);
  e.transaction_time = absl::ZeroDuration();
  e.tenant = "acme";
  e.campaign = "spring";
  e.pool = "pool-a";
  e.queue = "";
  return e;
}

// Parses `json` (simdjson validates UTF-8 too) into a flat object.
simdjson::dom::object ParseObject(simdjson::dom::parser& parser, const std::string& json) {
  simdjson::dom::element root;
  const auto error = parser.parse(json).get(root);
  EXPECT_EQ(error, simdjson::SUCCESS) << simdjson::error_message(error) << ": " << json;
  simdjson::dom::object object;
  if (error == simdjson::SUCCESS) {
    EXPECT_EQ(root.get_object().get(object), simdjson::SUCCESS);
  }
  return object;
}

std::string StringField(simdjson::dom::object object, const char* key) {
  std::string_view value;
  EXPECT_EQ(object[key].get_string().get(value), simdjson::SUCCESS) << key;
  return std::string(value);
}

double NumberField(simdjson::dom::object object, const char* key) {
  double value = -1;
  EXPECT_EQ(object[key].get_double().get(value), simdjson::SUCCESS) << key;
  return value;
}

TEST(DeliveryEventJsonTest, HasEveryKeyInItsDocumentedOrder) {
  const std::string json = FormatEventJson(SampleEvent());
  EXPECT_EQ(json.front(), '{');
  EXPECT_EQ(json.back(), '}');
  EXPECT_EQ(json.find('\n'), std::string::npos);
  const std::vector<std::string> keys = {"type",
                                         "time",
                                         "message_id",
                                         "recipient",
                                         "sender",
                                         "domain",
                                         "site",
                                         "remote_host",
                                         "remote_ip",
                                         "tls_version",
                                         "tls_cipher",
                                         "reply",
                                         "status",
                                         "attempt",
                                         "connect_ms",
                                         "tls_ms",
                                         "transaction_ms",
                                         "tenant",
                                         "campaign",
                                         "pool",
                                         "queue",
                                         "dsn_id",
                                         "dsn_recipients",
                                         "category",
                                         "original_message_id",
                                         "original_envelope_id",
                                         "original_recipient_index"};
  size_t position = 0;
  for (const std::string& key : keys) {
    const size_t at = json.find("\"" + key + "\":", position);
    ASSERT_NE(at, std::string::npos) << key << " missing or out of order in " << json;
    position = at;
  }
}

TEST(DeliveryEventJsonTest, ValuesRoundTripThroughAJsonParser) {
  simdjson::dom::parser parser;
  const DeliveryEvent e = SampleEvent();
  const simdjson::dom::object o = ParseObject(parser, FormatEventJson(e));
  EXPECT_EQ(StringField(o, "type"), "bounced");
  EXPECT_EQ(StringField(o, "time"), "2027-01-15T08:00:00.123Z");
  EXPECT_EQ(StringField(o, "category"), e.category);
  EXPECT_EQ(StringField(o, "message_id"), e.message_id.ToString());
  EXPECT_EQ(StringField(o, "recipient"), "bob@example.com");
  EXPECT_EQ(StringField(o, "sender"), "alice@example.org");
  EXPECT_EQ(StringField(o, "remote_ip"), "192.0.2.10");
  EXPECT_EQ(StringField(o, "tls_cipher"), "TLS_AES_128_GCM_SHA256");
  EXPECT_EQ(StringField(o, "reply"), "550 5.1.1 no such user");
  EXPECT_EQ(StringField(o, "status"), "5.1.1");
  EXPECT_EQ(NumberField(o, "attempt"), 3);
  EXPECT_EQ(NumberField(o, "connect_ms"), 12.5);
  EXPECT_EQ(NumberField(o, "tls_ms"), 30);
  EXPECT_EQ(NumberField(o, "transaction_ms"), 0);
  EXPECT_EQ(StringField(o, "tenant"), "acme");
  EXPECT_EQ(StringField(o, "queue"), "");
  EXPECT_EQ(StringField(o, "dsn_id"), "");
  simdjson::dom::array recipients;
  ASSERT_EQ(o["dsn_recipients"].get_array().get(recipients), simdjson::SUCCESS);
  EXPECT_EQ(recipients.size(), 0u);
}

TEST(DeliveryEventJsonTest, DsnEventsCarryTheDsnIdAndRecipients) {
  simdjson::dom::parser parser;
  DeliveryEvent e = SampleEvent();
  e.type = DeliveryEventType::kDsnFailure;
  e.dsn_id = common::MessageId::FromParts(1'800'000'000'001, 7, 1, 43);
  e.dsn_recipients = {"a@example.com", "b\"@example.com"};
  const simdjson::dom::object o = ParseObject(parser, FormatEventJson(e));
  EXPECT_EQ(StringField(o, "type"), "dsn_failure");
  EXPECT_EQ(StringField(o, "dsn_id"), e.dsn_id.ToString());
  simdjson::dom::array recipients;
  ASSERT_EQ(o["dsn_recipients"].get_array().get(recipients), simdjson::SUCCESS);
  std::vector<std::string> got;
  for (simdjson::dom::element r : recipients) {
    std::string_view s;
    ASSERT_EQ(r.get_string().get(s), simdjson::SUCCESS);
    got.emplace_back(s);
  }
  EXPECT_EQ(got, e.dsn_recipients);
}

TEST(DeliveryEventJsonTest, EscapesQuotesBackslashesAndControlCharacters) {
  std::string out;
  AppendJsonString(&out, "a\"b\\c\nd\re\tf\bg\fh\x01i\x1fj\x7fk/");
  EXPECT_EQ(out, R"("a\"b\\c\nd\re\tf\bg\fh\u0001i\u001fj\u007fk/")");
  out.clear();
  AppendJsonString(&out, std::string("nul\0end", 7));
  EXPECT_EQ(out, R"("nul\u0000end")");
}

TEST(DeliveryEventJsonTest, KeepsValidUtf8AndReplacesEveryInvalidByte) {
  const std::string fffd = "\xEF\xBF\xBD";
  const struct {
    std::string in;
    std::string out;
  } cases[] = {
      {"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"},
      {"ok\xFFok", "ok" + fffd + "ok"},
      {"\xC0\xAF", fffd + fffd},                        // overlong '/'
      {"\xE0\x80\xAF", fffd + fffd + fffd},             // overlong, three bytes
      {"\xED\xA0\x80", fffd + fffd + fffd},             // UTF-16 surrogate
      {"\xF4\x90\x80\x80", fffd + fffd + fffd + fffd},  // above U+10FFFF
      {"end\xE2\x82", "end" + fffd + fffd},             // truncated at the end
      {"\xC3(", fffd + "("},                            // bad continuation
      {"\x80", fffd},                                   // lone continuation
  };
  simdjson::dom::parser parser;
  for (const auto& c : cases) {
    std::string out;
    AppendJsonString(&out, c.in);
    EXPECT_EQ(out, "\"" + c.out + "\"");
    simdjson::dom::element element;
    EXPECT_EQ(parser.parse(out).get(element), simdjson::SUCCESS) << out;
  }
}

TEST(DeliveryEventJsonTest, HostileReplyStillMakesOneValidLine) {
  simdjson::dom::parser parser;
  DeliveryEvent e = SampleEvent();
  static constexpr char kHostile[] = "550 \"evil\"\r\n{\"type\":\"delivered\"}\xFF\x00";
  e.reply = std::string(kHostile, sizeof(kHostile) - 1);
  const std::string json = FormatEventJson(e);
  EXPECT_EQ(json.find('\n'), std::string::npos);
  const simdjson::dom::object o = ParseObject(parser, json);
  EXPECT_EQ(StringField(o, "type"), "bounced");
  EXPECT_EQ(StringField(o, "reply"),
            std::string(kHostile, sizeof(kHostile) - 3) + "\xEF\xBF\xBD" + std::string(1, '\0'));
}

TEST(DeliveryEventJsonTest, TypeNames) {
  EXPECT_EQ(EventTypeName(DeliveryEventType::kDelivered), "delivered");
  EXPECT_EQ(EventTypeName(DeliveryEventType::kDeferred), "deferred");
  EXPECT_EQ(EventTypeName(DeliveryEventType::kBounced), "bounced");
  EXPECT_EQ(EventTypeName(DeliveryEventType::kExpired), "expired");
  EXPECT_EQ(EventTypeName(DeliveryEventType::kDsnFailure), "dsn_failure");
  EXPECT_EQ(EventTypeName(DeliveryEventType::kDsnDelay), "dsn_delay");
  EXPECT_EQ(EventTypeName(DeliveryEventType::kDsnRelayed), "dsn_relayed");
}

TEST(DeliveryEventJsonTest, InfiniteDurationIsWrittenAsZero) {
  DeliveryEvent e = SampleEvent();
  e.tls_time = absl::InfiniteDuration();
  EXPECT_NE(FormatEventJson(e).find("\"tls_ms\":0,"), std::string::npos);
}

// --- EventLog -------------------------------------------------------------------

std::string MakeTempDir() {
  const char* base = getenv("TEST_TMPDIR");
  std::string templ = absl::StrCat(base != nullptr ? base : "/tmp", "/event_log_XXXXXX");
  EXPECT_NE(mkdtemp(templ.data()), nullptr);
  return templ;
}

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  std::vector<std::string> lines;
  if (text.empty()) return lines;
  EXPECT_EQ(text.back(), '\n') << path << " ends in a partial line";
  for (absl::string_view line : absl::StrSplit(text, '\n')) lines.emplace_back(line);
  lines.pop_back();  // after the final newline
  return lines;
}

std::unique_ptr<EventLog> OpenLog(EventLogOptions options) {
  absl::StatusOr<std::unique_ptr<EventLog>> log = EventLog::Open(std::move(options));
  EXPECT_TRUE(log.ok()) << log.status();
  return log.ok() ? *std::move(log) : nullptr;
}

TEST(EventLogTest, WritesEveryLineInOrderAndCloseFlushes) {
  const std::string path = MakeTempDir() + "/events.jsonl";
  auto log = OpenLog({.path = path});
  ASSERT_NE(log, nullptr);
  simdjson::dom::parser parser;
  DeliveryEvent e = SampleEvent();
  for (uint32_t i = 0; i < 2000; ++i) {
    e.attempt = i;
    ASSERT_TRUE(log->Log(e));
  }
  ASSERT_TRUE(log->Close().ok());
  EXPECT_EQ(log->written(), 2000u);
  EXPECT_EQ(log->dropped(), 0u);
  const std::vector<std::string> lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 2000u);
  for (uint32_t i = 0; i < lines.size(); ++i) {
    const simdjson::dom::object o = ParseObject(parser, lines[i]);
    ASSERT_EQ(NumberField(o, "attempt"), i);
  }
}

TEST(EventLogTest, AppendsToAnExistingFile) {
  const std::string path = MakeTempDir() + "/events.jsonl";
  {
    auto log = OpenLog({.path = path});
    log->LogLine("{\"n\":1}");
  }
  {
    auto log = OpenLog({.path = path});
    log->LogLine("{\"n\":2}");
  }
  EXPECT_EQ(ReadLines(path), (std::vector<std::string>{"{\"n\":1}", "{\"n\":2}"}));
}

TEST(EventLogTest, FlushMakesQueuedLinesDurableWithoutClosing) {
  const std::string path = MakeTempDir() + "/events.jsonl";
  auto log = OpenLog({.path = path, .flush_interval = absl::Hours(1)});
  for (int i = 0; i < 10; ++i) log->LogLine(absl::StrCat("{\"n\":", i, "}"));
  log->Flush();
  EXPECT_EQ(ReadLines(path).size(), 10u);
  EXPECT_EQ(log->written(), 10u);
  log->LogLine("{\"n\":10}");
  log->Flush();
  EXPECT_EQ(ReadLines(path).size(), 11u);
}

TEST(EventLogTest, ManyProducersLoseNothingAndKeepEachProducersOrder) {
  const std::string path = MakeTempDir() + "/events.jsonl";
  common::MetricsRegistry registry(0);
  common::Counter* written = registry.AddCounter("events_written_total", "w").value();
  common::Counter* dropped = registry.AddCounter("events_dropped_total", "d").value();
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5000;
  auto log = OpenLog({.path = path,
                      .queue_capacity = kThreads * kPerThread,
                      .max_batch_bytes = 4096,
                      .written = written,
                      .dropped = dropped});
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&log, t] {
      for (int i = 0; i < kPerThread; ++i) {
        EXPECT_TRUE(log->LogLine(absl::StrCat(t, " ", i)));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  ASSERT_TRUE(log->Close().ok());
  EXPECT_EQ(written->Value(), uint64_t{kThreads * kPerThread});
  EXPECT_EQ(dropped->Value(), 0u);
  const std::vector<std::string> lines = ReadLines(path);
  ASSERT_EQ(lines.size(), size_t{kThreads * kPerThread});
  std::vector<int> next(kThreads, 0);
  for (const std::string& line : lines) {
    const std::vector<std::string> parts = absl::StrSplit(line, ' ');
    ASSERT_EQ(parts.size(), 2u) << line;
    int t, i;
    ASSERT_TRUE(absl::SimpleAtoi(parts[0], &t) && absl::SimpleAtoi(parts[1], &i)) << line;
    ASSERT_TRUE(t >= 0 && t < kThreads);
    ASSERT_EQ(i, next[t]) << "producer " << t << " out of order";
    ++next[t];
  }
}

TEST(EventLogTest, RotatesBySizeAndKeepsMaxFiles) {
  const std::string path = MakeTempDir() + "/events.jsonl";
  // 100 lines of 100 bytes (with the newline) into files of 1000 bytes:
  // ten files' worth, of which the current one and two old ones remain.
  auto log = OpenLog({.path = path, .max_bytes = 1000, .max_files = 2});
  for (int i = 0; i < 100; ++i) {
    std::string line = absl::StrCat("{\"n\":", i, ",\"pad\":\"");
    line.resize(97, 'x');
    line += "\"}";
    ASSERT_EQ(line.size(), 99u);
    ASSERT_TRUE(log->LogLine(line));
  }
  ASSERT_TRUE(log->Close().ok());
  EXPECT_EQ(log->rotations(), 9u);
  EXPECT_TRUE(Exists(path + ".1"));
  EXPECT_TRUE(Exists(path + ".2"));
  EXPECT_FALSE(Exists(path + ".3"));
  simdjson::dom::parser parser;
  int expected = 70;  // the oldest line kept
  for (const std::string& file : {path + ".2", path + ".1", path}) {
    const std::vector<std::string> lines = ReadLines(file);
    EXPECT_EQ(lines.size(), 10u) << file;
    struct stat st;
    ASSERT_EQ(stat(file.c_str(), &st), 0);
    EXPECT_LE(st.st_size, 1000) << file;
    for (const std::string& line : lines) {
      const simdjson::dom::object o = ParseObject(parser, line);
      EXPECT_EQ(NumberField(o, "n"), expected) << file;
      ++expected;
    }
  }
  EXPECT_EQ(expected, 100);
}

TEST(EventLogTest, MaxFilesZeroKeepsOnlyTheCurrentFile) {
  const std::string path = MakeTempDir() + "/events.jsonl";
  auto log = OpenLog({.path = path, .max_bytes = 20, .max_files = 0});
  for (int i = 0; i < 5; ++i) log->LogLine(absl::StrCat("line-number-", i));  // 14 bytes each
  ASSERT_TRUE(log->Close().ok());
  EXPECT_EQ(log->rotations(), 4u);
  EXPECT_FALSE(Exists(path + ".1"));
  EXPECT_EQ(ReadLines(path), std::vector<std::string>{"line-number-4"});
}

TEST(EventLogTest, DropsAreCountedWhileTheWriterIsStalled) {
  const std::string path = MakeTempDir() + "/events.jsonl";
  common::MetricsRegistry registry(0);
  common::Counter* written = registry.AddCounter("events_written_total", "w").value();
  common::Counter* dropped = registry.AddCounter("events_dropped_total", "d").value();
  auto log = OpenLog({.path = path, .queue_capacity = 8, .written = written, .dropped = dropped});
  log->PauseForTest();
  int accepted = 0;
  for (int i = 0; i < 20; ++i) accepted += log->LogLine(absl::StrCat("{\"n\":", i, "}"));
  EXPECT_EQ(accepted, 8);
  EXPECT_EQ(log->dropped(), 12u);
  EXPECT_EQ(dropped->Value(), 12u);
  EXPECT_EQ(log->written(), 0u);
  log->ResumeForTest();
  log->Flush();
  EXPECT_EQ(log->written(), 8u);
  // Room again once the writer caught up.
  EXPECT_TRUE(log->LogLine("{\"n\":20}"));
  ASSERT_TRUE(log->Close().ok());
  EXPECT_EQ(written->Value(), 9u);
  const std::vector<std::string> lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 9u);
  EXPECT_EQ(lines.front(), "{\"n\":0}");
  EXPECT_EQ(lines[7], "{\"n\":7}");
  EXPECT_EQ(lines.back(), "{\"n\":20}");
}

TEST(EventLogTest, CloseWhilePausedStillWritesEverything) {
  const std::string path = MakeTempDir() + "/events.jsonl";
  auto log = OpenLog({.path = path, .queue_capacity = 64});
  log->PauseForTest();
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(log->LogLine(absl::StrCat(i)));
  ASSERT_TRUE(log->Close().ok());
  EXPECT_EQ(ReadLines(path).size(), 50u);
}

TEST(EventLogTest, LinesAfterCloseAreDroppedAndCounted) {
  const std::string path = MakeTempDir() + "/events.jsonl";
  auto log = OpenLog({.path = path});
  ASSERT_TRUE(log->Close().ok());
  EXPECT_FALSE(log->LogLine("late"));
  EXPECT_EQ(log->dropped(), 1u);
  EXPECT_TRUE(log->Close().ok());  // idempotent
  EXPECT_TRUE(ReadLines(path).empty());
}

TEST(EventLogTest, ReopenFollowsAnExternalRotation) {
  const std::string dir = MakeTempDir();
  const std::string path = dir + "/events.jsonl";
  auto log = OpenLog({.path = path});
  log->LogLine("before-1");
  log->LogLine("before-2");
  log->Flush();
  ASSERT_EQ(rename(path.c_str(), (dir + "/events.jsonl.old").c_str()), 0);  // logrotate
  log->Reopen();
  log->Flush();  // the writer has reopened once Flush returns
  EXPECT_TRUE(Exists(path));
  log->LogLine("after");
  ASSERT_TRUE(log->Close().ok());
  EXPECT_EQ(ReadLines(dir + "/events.jsonl.old"),
            (std::vector<std::string>{"before-1", "before-2"}));
  EXPECT_EQ(ReadLines(path), std::vector<std::string>{"after"});
}

TEST(EventLogTest, WriteErrorsAreCountedAndReported) {
  // /dev/full opens fine and fails every write with ENOSPC.
  auto log = OpenLog({.path = "/dev/full"});
  ASSERT_NE(log, nullptr);
  for (int i = 0; i < 3; ++i) log->LogLine("x");
  const absl::Status status = log->Close();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_EQ(log->write_errors(), 3u);
  EXPECT_EQ(log->written(), 0u);
}

TEST(EventLogTest, OpenRefusesBadOptions) {
  EXPECT_EQ(EventLog::Open({.path = ""}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EventLog::Open({.path = "/nonexistent-dir/events.jsonl"}).status().code(),
            absl::StatusCode::kUnavailable);
  const std::string path = MakeTempDir() + "/events.jsonl";
  EXPECT_EQ(EventLog::Open({.path = path, .max_files = -1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EventLog::Open({.path = path, .queue_capacity = 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sluice::engine
