#include "tests/dns/packet_builder.h"

namespace sluice::dns::testing {

PacketBuilder::PacketBuilder(uint16_t id, int rcode, uint16_t qdcount, uint16_t ancount,
                             uint16_t nscount) {
  U16(id);
  U16(static_cast<uint16_t>(0x8180 | (rcode & 0x0F)));
  U16(qdcount);
  U16(ancount);
  U16(nscount);
  U16(0);
}

void PacketBuilder::SetFlagBits(uint16_t bits) {
  bytes_[2] |= static_cast<uint8_t>(bits >> 8);
  bytes_[3] |= static_cast<uint8_t>(bits & 0xFF);
}

PacketBuilder& PacketBuilder::Name(std::string_view dotted) {
  size_t start = 0;
  while (start < dotted.size()) {
    size_t dot = dotted.find('.', start);
    if (dot == std::string_view::npos) dot = dotted.size();
    U8(static_cast<uint8_t>(dot - start));
    Bytes(dotted.substr(start, dot - start));
    start = dot + 1;
  }
  return U8(0);
}

PacketBuilder& PacketBuilder::Pointer(uint16_t offset) { return U16(0xC000 | offset); }

PacketBuilder& PacketBuilder::U8(uint8_t v) {
  bytes_.push_back(v);
  return *this;
}

PacketBuilder& PacketBuilder::U16(uint16_t v) {
  bytes_.push_back(static_cast<uint8_t>(v >> 8));
  bytes_.push_back(static_cast<uint8_t>(v));
  return *this;
}

PacketBuilder& PacketBuilder::U32(uint32_t v) {
  U16(static_cast<uint16_t>(v >> 16));
  return U16(static_cast<uint16_t>(v));
}

PacketBuilder& PacketBuilder::Bytes(std::string_view bytes) {
  bytes_.insert(bytes_.end(), bytes.begin(), bytes.end());
  return *this;
}

PacketBuilder& PacketBuilder::Question(std::string_view name, uint16_t type) {
  Name(name);
  U16(type);
  return U16(1);
}

size_t PacketBuilder::BeginRecord(std::string_view name, uint16_t type, uint32_t ttl) {
  Name(name);
  U16(type);
  U16(1);
  U32(ttl);
  const size_t at = bytes_.size();
  U16(0);
  return at;
}

void PacketBuilder::EndRecord(size_t rdlength_at) {
  const size_t len = bytes_.size() - rdlength_at - 2;
  bytes_[rdlength_at] = static_cast<uint8_t>(len >> 8);
  bytes_[rdlength_at + 1] = static_cast<uint8_t>(len);
}

PacketBuilder& PacketBuilder::Mx(std::string_view owner, uint32_t ttl, uint16_t preference,
                                 std::string_view exchange) {
  const size_t at = BeginRecord(owner, 15, ttl);
  U16(preference);
  Name(exchange);
  EndRecord(at);
  return *this;
}

PacketBuilder& PacketBuilder::A(std::string_view owner, uint32_t ttl, uint8_t a, uint8_t b,
                                uint8_t c, uint8_t d) {
  const size_t at = BeginRecord(owner, 1, ttl);
  U8(a).U8(b).U8(c).U8(d);
  EndRecord(at);
  return *this;
}

PacketBuilder& PacketBuilder::Cname(std::string_view owner, uint32_t ttl, std::string_view target) {
  const size_t at = BeginRecord(owner, 5, ttl);
  Name(target);
  EndRecord(at);
  return *this;
}

PacketBuilder& PacketBuilder::Soa(std::string_view owner, uint32_t ttl, uint32_t minimum) {
  const size_t at = BeginRecord(owner, 6, ttl);
  Name("ns.test");
  Name("admin.test");
  U32(1).U32(3600).U32(600).U32(86400).U32(minimum);
  EndRecord(at);
  return *this;
}

}  // namespace sluice::dns::testing
