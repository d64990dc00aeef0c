#include "engine/scsi/vpd.h"

#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

namespace mpio::scsi {
namespace {

void AddDesignator(std::vector<uint8_t>* page, uint8_t b0, uint8_t b1,
                   const std::vector<uint8_t>& id) {
  page->push_back(b0);
  page->push_back(b1);
  page->push_back(0);
  page->push_back(static_cast<uint8_t>(id.size()));
  page->insert(page->end(), id.begin(), id.end());
}

std::vector<uint8_t> Page(uint8_t code, const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> p = {0x00, code,
                            static_cast<uint8_t>(payload.size() >> 8),
                            static_cast<uint8_t>(payload.size())};
  p.insert(p.end(), payload.begin(), payload.end());
  return p;
}

std::vector<uint8_t> Ascii(const char* s) {
  return std::vector<uint8_t>(s, s + std::strlen(s));
}

const std::vector<uint8_t> kTgtdNaa6 = {0x60, 0, 0, 0, 0, 0, 0, 0,
                                        0x0e, 0, 0, 0, 0, 1, 0, 1};
const std::vector<uint8_t> kTgtdNaa3 = {0x30, 0, 0, 1, 0, 0, 0, 1};

// tgtd 1.0.85's page 0x83 as seen over both portals (LIBISCSI-NOTES §0),
// T10 first to show that the rank, not the order, decides.
std::vector<uint8_t> TgtdVpd83() {
  std::vector<uint8_t> payload;
  AddDesignator(&payload, 0x02, 0x01, Ascii("IET     00010001"));
  AddDesignator(&payload, 0x01, 0x03, kTgtdNaa3);
  AddDesignator(&payload, 0x01, 0x03, kTgtdNaa6);
  return Page(0x83, payload);
}

TEST_CASE("tgtd device identification and identity") {
  auto ds = ParseDeviceIdentification(TgtdVpd83());
  REQUIRE(ds.ok());
  REQUIRE(ds->size() == 3);
  CHECK((*ds)[0].type == kDesignatorT10VendorId);
  CHECK((*ds)[0].code_set == 2);
  CHECK((*ds)[1].type == kDesignatorNaa);
  CHECK((*ds)[1].code_set == 1);
  CHECK((*ds)[2].id == kTgtdNaa6);
  CHECK(LunIdentity(*ds) == "naa.60000000000000000e00000000010001");
  CHECK(!TargetPortGroup(*ds).has_value());
  CHECK(!RelativeTargetPortId(*ds).has_value());

  // Without the NAA 6: the locally assigned NAA 3 beats T10.
  std::vector<Designator> no6(ds->begin(), ds->begin() + 2);
  CHECK(LunIdentity(no6) == "naa.3000000100000001");
  std::vector<Designator> t10(ds->begin(), ds->begin() + 1);
  CHECK(LunIdentity(t10) == "t10.IET_____00010001");
  CHECK(LunIdentity({}) == "");
}

TEST_CASE("identity ranking: NAA 5 > EUI-64 > name; port designators") {
  std::vector<uint8_t> payload;
  // iSCSI name, UTF-8, LU association, NUL padded.
  auto name = Ascii("iqn.2024-01.test:lun0");
  name.push_back(0);
  name.push_back(0);
  name.push_back(0);
  AddDesignator(&payload, 0x53, 0x08, name);
  AddDesignator(&payload, 0x01, 0x02,
                {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77});   // EUI-64
  AddDesignator(&payload, 0x01, 0x13, {0x50, 1, 2, 3, 4, 5, 6, 7});  // port NAA
  AddDesignator(&payload, 0x61, 0x94, {0, 0, 0x00, 0x02});  // rel port 2
  AddDesignator(&payload, 0x61, 0x95, {0, 0, 0x01, 0x01});  // TPG 257
  auto page = Page(0x83, payload);
  auto ds = ParseDeviceIdentification(page);
  REQUIRE(ds.ok());
  REQUIRE(ds->size() == 5);
  CHECK((*ds)[3].piv);
  CHECK((*ds)[3].protocol_id == 6);
  CHECK((*ds)[3].association == kAssociationTargetPort);
  // The NAA 5 is a target-port designator: it must not be the LU identity.
  CHECK(LunIdentity(*ds) == "eui.0011223344556677");
  CHECK(TargetPortGroup(*ds) == 257);
  CHECK(RelativeTargetPortId(*ds) == 2);
  std::vector<Designator> only_name(ds->begin(), ds->begin() + 1);
  CHECK(LunIdentity(only_name) == "name.iqn.2024-01.test:lun0");

  std::vector<Designator> naa5 = *ds;
  naa5[2].association = kAssociationLun;
  CHECK(LunIdentity(naa5) == "naa.5001020304050607");
}

TEST_CASE("device identification: truncated and lying lengths") {
  auto page = TgtdVpd83();
  // Cut short by a small allocation length.
  auto cut = ParseDeviceIdentification(std::span(page).first(20));
  REQUIRE(!cut.ok());
  CHECK(cut.status().message().find("PAGE LENGTH") != std::string::npos);
  CHECK(VpdPageLength(page).value() == page.size());
  // A designator length that runs past the page.
  auto lying = page;
  lying[4 + 3] = 200;
  auto bad = ParseDeviceIdentification(lying);
  REQUIRE(!bad.ok());
  CHECK(bad.status().message().find("DESIGNATOR LENGTH 200") !=
        std::string::npos);
  // A page that ends inside a designator header.
  auto ragged = Page(0x83, {0x01, 0x03});
  CHECK(!ParseDeviceIdentification(ragged).ok());
  // Wrong page code.
  auto wrong = page;
  wrong[1] = 0x80;
  auto w = ParseDeviceIdentification(wrong);
  REQUIRE(!w.ok());
  CHECK(w.status().message().find("PAGE CODE") != std::string::npos);
  CHECK(!ParseDeviceIdentification(std::span(page).first(3)).ok());
}

TEST_CASE("supported pages and unit serial") {
  auto pages = ParseSupportedVpdPages(Page(0x00, {0x00, 0x80, 0x83, 0xB0}));
  REQUIRE(pages.ok());
  CHECK(*pages == std::vector<uint8_t>{0x00, 0x80, 0x83, 0xB0});
  auto serial = ParseUnitSerial(Page(0x80, Ascii("  beaf11  ")));
  REQUIRE(serial.ok());
  CHECK(*serial == "beaf11");
  CHECK(ParseUnitSerial(Page(0x80, Ascii("    "))).value() == "");
  CHECK(!ParseUnitSerial(Page(0x83, Ascii("x"))).ok());
}

TEST_CASE("block limits, full and short pages") {
  std::vector<uint8_t> payload(0x3C, 0);
  auto page = Page(0xB0, payload);
  page[7] = 8;  // OTL granularity 8
  page[8] = 0x00, page[9] = 0x00, page[10] = 0x04, page[11] = 0x00;  // 1024
  page[15] = 0x80;                                                   // OTL 128
  page[22] = 0x01;  // max unmap LBA count 0x100
  page[27] = 16;    // descriptors
  page[31] = 8;     // granularity
  page[32] = 0x80;
  page[35] = 2;     // UGAVALID, align 2
  page[43] = 0x40;  // max write same
  auto bl = ParseBlockLimits(page);
  REQUIRE(bl.ok());
  CHECK(bl->optimal_transfer_length_granularity == 8);
  CHECK(bl->max_transfer_length == 1024);
  CHECK(bl->optimal_transfer_length == 128);
  CHECK(bl->max_unmap_lba_count == 0x100);
  CHECK(bl->max_unmap_block_descriptor_count == 16);
  CHECK(bl->optimal_unmap_granularity == 8);
  CHECK(bl->unmap_granularity_alignment_valid);
  CHECK(bl->unmap_granularity_alignment == 2);
  CHECK(bl->max_write_same_length == 0x40);

  // An SBC-2 style page of 0x0C bytes: the unmap fields read as 0.
  auto old_page = Page(0xB0, std::vector<uint8_t>(0x0C, 0));
  old_page[11] = 0x10;
  old_page[15] = 0x20;
  auto ob = ParseBlockLimits(old_page);
  REQUIRE(ob.ok());
  CHECK(ob->max_transfer_length == 0x10);
  CHECK(ob->optimal_transfer_length == 0x20);
  CHECK(ob->max_unmap_lba_count == 0);
  CHECK(ob->max_write_same_length == 0);
  // The declared length is honoured even when more bytes follow.
  old_page.resize(64, 0xFF);
  CHECK(ParseBlockLimits(old_page)->max_unmap_lba_count == 0);
  // Lying length.
  auto lying = Page(0xB0, std::vector<uint8_t>(8, 0));
  lying[3] = 0x3C;
  CHECK(!ParseBlockLimits(lying).ok());
}

TEST_CASE("logical block provisioning") {
  auto page = Page(0xB2, {0x00, 0xE4 | 0x02, 0x02, 0x00});
  auto l = ParseLogicalBlockProvisioning(page);
  REQUIRE(l.ok());
  CHECK(l->lbpu);
  CHECK(l->lbpws);
  CHECK(l->lbpws10);
  CHECK(l->lbprz == 1);
  CHECK(l->anc_sup);
  CHECK(!l->dp);
  CHECK(l->provisioning_type == 2);
  auto none = ParseLogicalBlockProvisioning(Page(0xB2, {0, 0, 0, 0}));
  REQUIRE(none.ok());
  CHECK(!none->lbpu);
  CHECK(none->provisioning_type == 0);
  auto short_page = ParseLogicalBlockProvisioning(Page(0xB2, {0, 0x80}));
  REQUIRE(!short_page.ok());
  CHECK(short_page.status().message().find("PAGE LENGTH 2") !=
        std::string::npos);
}

}  // namespace
}  // namespace mpio::scsi
