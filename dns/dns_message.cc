#include "dns/dns_message.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace sluice::dns {
namespace {

constexpr size_t kHeaderSize = 12;
constexpr uint16_t kClassIn = 1;
constexpr int kMaxChain = 16;

struct Record {
  std::string owner;
  uint16_t type = 0;
  uint32_t ttl = 0;
  size_t rdata = 0;  // offset in the packet
  uint16_t rdlength = 0;
};

class Reader {
 public:
  explicit Reader(absl::Span<const uint8_t> packet) : p_(packet) {}

  bool U8(size_t at, uint8_t* out) const {
    if (at + 1 > p_.size()) return false;
    *out = p_[at];
    return true;
  }
  bool U16(size_t at, uint16_t* out) const {
    if (at + 2 > p_.size()) return false;
    *out = static_cast<uint16_t>((p_[at] << 8) | p_[at + 1]);
    return true;
  }
  bool U32(size_t at, uint32_t* out) const {
    if (at + 4 > p_.size()) return false;
    *out = (uint32_t{p_[at]} << 24) | (uint32_t{p_[at + 1]} << 16) | (uint32_t{p_[at + 2]} << 8) |
           uint32_t{p_[at + 3]};
    return true;
  }

  // Reads the (possibly compressed) name at `*at` into lower-case dotted
  // form without a trailing dot ("" for the root) and moves `*at` past it.
  bool Name(size_t* at, std::string* out) const {
    out->clear();
    size_t pos = *at;
    bool jumped = false;
    size_t total = 0;
    while (true) {
      uint8_t len = 0;
      if (!U8(pos, &len)) return false;
      if ((len & 0xC0) == 0xC0) {
        uint8_t low = 0;
        if (!U8(pos + 1, &low)) return false;
        const size_t target = (size_t{len & 0x3Fu} << 8) | low;
        if (!jumped) *at = pos + 2;
        // Only backwards: no loops.
        if (target >= pos) return false;
        jumped = true;
        pos = target;
        continue;
      }
      if ((len & 0xC0) != 0) return false;
      if (len == 0) {
        if (!jumped) *at = pos + 1;
        return true;
      }
      if (pos + 1 + len > p_.size()) return false;
      total += len + 1;
      if (total > 255) return false;
      if (!out->empty()) out->push_back('.');
      for (size_t i = 0; i < len; ++i) {
        out->push_back(absl::ascii_tolower(static_cast<char>(p_[pos + 1 + i])));
      }
      pos += 1 + len;
    }
  }

  size_t size() const { return p_.size(); }
  const uint8_t* data() const { return p_.data(); }

 private:
  absl::Span<const uint8_t> p_;
};

absl::Status Malformed(std::string_view what) {
  return absl::DataLossError(
      absl::StrCat("malformed DNS response: ", absl::string_view(what.data(), what.size())));
}

}  // namespace

std::string CanonicalName(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return absl::AsciiStrToLower(absl::string_view(name.data(), name.size()));
}

absl::StatusOr<ParsedResponse> ParseResponse(absl::Span<const uint8_t> packet,
                                             std::string_view qname, RecordType qtype) {
  Reader r(packet);
  if (packet.size() < kHeaderSize) return Malformed("short header");
  uint16_t flags = 0, qdcount = 0, ancount = 0, nscount = 0;
  r.U16(2, &flags);
  r.U16(4, &qdcount);
  r.U16(6, &ancount);
  r.U16(8, &nscount);
  const int rcode = flags & 0x0F;
  size_t at = kHeaderSize;
  std::string name;
  for (uint16_t i = 0; i < qdcount; ++i) {
    if (!r.Name(&at, &name)) return Malformed("question name");
    at += 4;
    if (at > packet.size()) return Malformed("question");
  }
  auto read_records = [&](uint16_t count, std::vector<Record>* out) -> absl::Status {
    for (uint16_t i = 0; i < count; ++i) {
      Record rec;
      uint16_t cls = 0;
      if (!r.Name(&at, &rec.owner)) return Malformed("record name");
      if (!r.U16(at, &rec.type) || !r.U16(at + 2, &cls) || !r.U32(at + 4, &rec.ttl) ||
          !r.U16(at + 8, &rec.rdlength)) {
        return Malformed("record header");
      }
      at += 10;
      if (at + rec.rdlength > packet.size()) return Malformed("record data");
      rec.rdata = at;
      at += rec.rdlength;
      // TTLs with the top bit set are treated as zero (RFC 2181 8).
      if (rec.ttl > 0x7FFFFFFFu) rec.ttl = 0;
      if (cls == kClassIn) out->push_back(std::move(rec));
    }
    return absl::OkStatus();
  };
  std::vector<Record> answers;
  std::vector<Record> authority;
  if (absl::Status s = read_records(ancount, &answers); !s.ok()) return s;
  // A truncated authority section costs us the negative TTL, not the answer.
  if (absl::Status s = read_records(nscount, &authority); !s.ok()) authority.clear();

  ParsedResponse parsed;
  Answer& answer = parsed.answer;
  answer.authenticated = (flags & 0x0020) != 0;
  std::string current = CanonicalName(qname);
  std::optional<uint32_t> min_ttl;
  auto take_ttl = [&](uint32_t ttl) { min_ttl = min_ttl ? std::min(*min_ttl, ttl) : ttl; };

  // Follow the CNAME chain from the question's name.
  int hops = 0;
  bool chained = false;
  while (true) {
    auto it = std::find_if(answers.begin(), answers.end(), [&](const Record& rec) {
      return rec.type == static_cast<uint16_t>(RecordType::kCname) && rec.owner == current;
    });
    if (it == answers.end() || qtype == RecordType::kCname) break;
    if (++hops > kMaxChain) return Malformed("CNAME chain too long");
    size_t p = it->rdata;
    std::string target;
    if (!r.Name(&p, &target)) return Malformed("CNAME target");
    take_ttl(it->ttl);
    current = std::move(target);
    chained = true;
  }
  answer.canonical_name = current;

  for (const Record& rec : answers) {
    if (rec.owner != current || rec.type != static_cast<uint16_t>(qtype)) continue;
    size_t p = rec.rdata;
    const size_t end = rec.rdata + rec.rdlength;
    switch (qtype) {
      case RecordType::kMx: {
        MxRecord mx;
        if (!r.U16(p, &mx.preference)) return Malformed("MX");
        p += 2;
        if (!r.Name(&p, &mx.host) || p != end) return Malformed("MX exchange");
        answer.mx.push_back(std::move(mx));
        break;
      }
      case RecordType::kA: {
        if (rec.rdlength != 4) return Malformed("A");
        sockaddr_in sin{};
        sin.sin_family = AF_INET;
        std::memcpy(&sin.sin_addr, r.data() + p, 4);
        answer.addresses.push_back(reactor::SocketAddress::FromSockaddr(
            reinterpret_cast<const sockaddr*>(&sin), sizeof(sin)));
        break;
      }
      case RecordType::kAaaa: {
        if (rec.rdlength != 16) return Malformed("AAAA");
        sockaddr_in6 sin6{};
        sin6.sin6_family = AF_INET6;
        std::memcpy(&sin6.sin6_addr, r.data() + p, 16);
        answer.addresses.push_back(reactor::SocketAddress::FromSockaddr(
            reinterpret_cast<const sockaddr*>(&sin6), sizeof(sin6)));
        break;
      }
      case RecordType::kTxt: {
        TxtRecord txt;
        while (p < end) {
          const uint8_t len = r.data()[p];
          if (p + 1 + len > end) return Malformed("TXT");
          txt.strings.emplace_back(reinterpret_cast<const char*>(r.data() + p + 1), len);
          p += 1 + len;
        }
        answer.txt.push_back(std::move(txt));
        break;
      }
      case RecordType::kTlsa: {
        if (rec.rdlength < 3) return Malformed("TLSA");
        TlsaRecord tlsa;
        tlsa.usage = r.data()[p];
        tlsa.selector = r.data()[p + 1];
        tlsa.matching_type = r.data()[p + 2];
        tlsa.data.assign(reinterpret_cast<const char*>(r.data() + p + 3), rec.rdlength - 3);
        answer.tlsa.push_back(std::move(tlsa));
        break;
      }
      case RecordType::kCname:
      case RecordType::kSoa:
        break;
    }
    take_ttl(rec.ttl);
  }
  const bool has_data = !answer.mx.empty() || !answer.addresses.empty() || !answer.txt.empty() ||
                        !answer.tlsa.empty();

  // The negative TTL: min(SOA TTL, SOA MINIMUM), RFC 2308 section 5.
  std::optional<uint32_t> negative_ttl;
  for (const Record& rec : authority) {
    if (rec.type != static_cast<uint16_t>(RecordType::kSoa)) continue;
    size_t p = rec.rdata;
    std::string mname, rname;
    uint32_t minimum = 0;
    if (!r.Name(&p, &mname) || !r.Name(&p, &rname) || !r.U32(p + 16, &minimum)) break;
    negative_ttl = std::min(rec.ttl, minimum);
    break;
  }

  switch (rcode) {
    case 0:
      if (has_data) {
        answer.status = AnswerStatus::kOk;
        answer.ttl = absl::Seconds(min_ttl.value_or(0));
      } else {
        answer.status = AnswerStatus::kNoData;
        if (negative_ttl)
          answer.ttl = absl::Seconds(std::min(*negative_ttl, min_ttl.value_or(*negative_ttl)));
        parsed.chase_cname = chained && !negative_ttl;
        // For a chase: how long the chain itself may be kept.
        if (parsed.chase_cname) answer.ttl = absl::Seconds(min_ttl.value_or(0));
      }
      break;
    case 3:
      answer.status = AnswerStatus::kNxDomain;
      if (negative_ttl) answer.ttl = absl::Seconds(*negative_ttl);
      break;
    case 2:
    case 5:  // REFUSED: another server may know better
      answer.status = AnswerStatus::kServFail;
      answer.detail = absl::StrCat("rcode ", rcode);
      break;
    default:
      answer.status = AnswerStatus::kError;
      answer.detail = absl::StrCat("rcode ", rcode);
      break;
  }
  return parsed;
}

}  // namespace sluice::dns
