"""Built-in lists of common Indonesian names and place words for demo people and addresses.

Lists of common names, not of people. Many Indonesians carry one name or two given names; Batak
families (North Sumatra) pass on the father's clan name (marga).
"""

from __future__ import annotations


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


MALE_GIVEN = _words(
    "Agus Ahmad Andi Anton Arif Aris Bambang Bayu Budi Cahyo Dedi Deni Dimas Eko Fajar Fauzi Gilang Hadi "
    "Hendra Heru Ilham Imam Indra Irfan Iwan Joko Kevin Lukman Muhammad Nanang Rahmat Reza Ridwan Rizal "
    "Rizky Rudi Sigit Slamet Sugeng Taufik Teguh Wahyu Wawan Yanto Yogi Yusuf Zainal Asep Ujang Dadang "
    "Made Ketut Wayan Nyoman Yohanes Petrus Fransiskus Daniel Samuel Hasan"
)
FEMALE_GIVEN = _words(
    "Siti Sri Dewi Ayu Rina Nur Putri Fitri Ratna Yuni Nurul Aminah Anisa Aisyah Lina Maya Nia Novi Rahma "
    "Rini Rika Sinta Susi Tuti Umi Widya Yanti Eva Erna Endah Dian Desi Dina Fatimah Hana Ika Indah Irma "
    "Lilis Mega Nining Rosa Sari Tri Wulan Yulia Kadek Komang Maria Theresia Agnes Ani Eni Neneng Euis "
    "Cucu Imas Asih Murni Suryani"
)
MALE_SECOND = _words(
    "Santoso Hidayat Saputra Setiawan Wijaya Pratama Nugroho Gunawan Kurniawan Permana Hakim Firmansyah "
    "Ramadhan Prasetyo Susanto Wibowo Hartono Sutrisno Suharto Purnomo Sulistyo Syahputra Maulana Kusuma "
    "Hermawan Rahman Hasibuan Subagyo Supriyadi Haryanto Mulyadi Suryadi Effendi Sanjaya Fauzan Iskandar"
)
FEMALE_SECOND = _words(
    "Rahmawati Lestari Wulandari Susanti Handayani Puspitasari Anggraini Kusumawati Rahayu Safitri "
    "Permatasari Maharani Yuliani Utami Wahyuni Fitriani Hidayati Suryani Kartika Purnamasari Setiawati "
    "Novitasari Pertiwi Astuti Sulastri Mulyani Nurhayati Ningsih Kurniasih Marlina"
)
MARGA = _words(
    "Siregar Nasution Lubis Harahap Simanjuntak Sitompul Hutagalung Sinaga Situmorang Pardede Tambunan "
    "Panjaitan Sihombing Manurung Simatupang Pasaribu Silalahi Damanik Purba Ginting Tarigan Sembiring"
)
MARGA_PROVINCES = frozenset({"12"})  # Sumatera Utara
# Provinces where a single name (Sutrisno, Suparman) is common.
SINGLE_NAME_PROVINCES = frozenset({"33", "34", "35"})
SINGLE_NAME_SHARE = 0.25
OTHER_SINGLE_NAME_SHARE = 0.08

STREETS: tuple[str, ...] = (
    "Jl. Melati",
    "Jl. Mawar",
    "Jl. Kenanga",
    "Jl. Anggrek",
    "Jl. Flamboyan",
    "Jl. Cempaka",
    "Jl. Merdeka",
    "Jl. Pahlawan",
    "Jl. Diponegoro",
    "Jl. Sudirman",
    "Jl. Kartini",
    "Jl. Gatot Subroto",
    "Jl. Ahmad Yani",
    "Jl. Imam Bonjol",
    "Jl. Pemuda",
    "Jl. Cendrawasih",
    "Jl. Veteran",
    "Jl. Nusantara",
    "Gg. Mushola",
    "Gg. Damai",
    "Gg. Kelapa",
    "Jl. Masjid",
    "Jl. Pasar Baru",
    "Jl. Teratai",
)
HAMLETS: tuple[str, ...] = (
    "Dusun Krajan",
    "Dusun Sukamaju",
    "Dusun Sidomulyo",
    "Dusun Karanganyar",
    "Dusun Tegalsari",
    "Dusun Sumbersari",
    "Dusun Mekarsari",
    "Dusun Cikaret",
    "Dusun Sukajadi",
    "Dusun Pandansari",
    "Kampung Baru",
    "Kampung Tengah",
    "Dusun Wonorejo",
    "Dusun Margomulyo",
    "Dusun Sukarame",
    "Dusun Banjarsari",
    "Lingkungan I",
    "Lingkungan II",
    "Jorong Koto",
    "Banjar Kaja",
)
