//! The Poliris column table: every 1-based rank of the SeLoger export
//! specification (versions 4.08 to 4.12) with its French name.
//!
//! Poliris files have no header, so the rank alone identifies a field.
//! Ranks are 1-based as in the specification; [`column`] turns a rank into
//! its entry, and the constants in [`rank`] name the ranks the converter reads.

/// The value type the specification gives a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Text,
    Decimal,
    Integer,
    /// `OUI` or `NON`.
    Boolean,
    /// `JJ/MM/AAAA`.
    Date,
    /// Dropped from the specification; CRMs leave it empty.
    Obsolete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub rank: usize,
    /// The specification's French name, e.g. `Libellé`.
    pub name: &'static str,
    pub kind: ValueKind,
}

/// Number of columns in version 4.12, the latest known.
pub const COLUMN_COUNT: usize = 334;

/// Minimum number of columns in a record: up to the description (rank 21).
pub const MIN_COLUMNS: usize = 21;

/// Returns the specification's entry for a 1-based rank, or `None` for a
/// rank beyond version 4.12.
pub fn column(rank: usize) -> Option<&'static Column> {
    rank.checked_sub(1).and_then(|index| COLUMNS.get(index))
}

/// Returns the French name of a rank, or `colonne N` past the known ones.
pub fn column_name(rank: usize) -> String {
    match column(rank) {
        Some(column) => column.name.to_string(),
        None => format!("colonne {rank}"),
    }
}

/// Ranks read by the converter, named after their meaning.
pub mod rank {
    pub const AGENCY_ID: usize = 1;
    pub const REFERENCE: usize = 2;
    pub const TRANSACTION_TYPE: usize = 3;
    pub const PROPERTY_TYPE: usize = 4;
    pub const POSTAL_CODE: usize = 5;
    pub const CITY: usize = 6;
    pub const COUNTRY: usize = 7;
    pub const ADDRESS: usize = 8;
    pub const PRICE: usize = 11;
    pub const FEES: usize = 15;
    pub const LIVING_AREA: usize = 16;
    pub const LAND_AREA: usize = 17;
    pub const ROOMS: usize = 18;
    pub const BEDROOMS: usize = 19;
    pub const TITLE: usize = 20;
    pub const DESCRIPTION: usize = 21;
    pub const AVAILABLE_FROM: usize = 22;
    pub const CHARGES: usize = 23;
    pub const FLOOR: usize = 24;
    pub const FLOORS: usize = 25;
    pub const FURNISHED: usize = 26;
    pub const YEAR_BUILT: usize = 27;
    pub const BATHROOMS: usize = 29;
    pub const SHOWER_ROOMS: usize = 30;
    pub const LIFT: usize = 41;
    pub const CELLAR: usize = 42;
    pub const TERRACE: usize = 48;
    pub const AIR_CONDITIONING: usize = 64;
    pub const POOL: usize = 65;
    pub const DISABLED_ACCESS: usize = 66;
    pub const FIREPLACE: usize = 68;
    pub const EXCLUSIVE_MANDATE: usize = 83;
    pub const VIRTUAL_TOUR: usize = 104;
    pub const CONTACT_EMAIL: usize = 107;
    pub const REAL_POSTAL_CODE: usize = 108;
    pub const REAL_CITY: usize = 109;
    /// Mandator (owner) name, address, phone and notes: personal data that
    /// never enters the store.
    pub const OWNER_FIRST: usize = 114;
    pub const OWNER_LAST: usize = 122;
    pub const NEGOTIATOR_CODE: usize = 123;
    /// Start of each translation block: language code, proximité, libellé,
    /// descriptif.
    pub const TRANSLATION_BLOCKS: [usize; 3] = [124, 128, 132];
    pub const DEPOSIT: usize = 161;
    pub const WORKS_NEEDED: usize = 163;
    pub const TECHNICAL_ID: usize = 175;
    pub const DPE_VALUE: usize = 176;
    pub const DPE_CLASS: usize = 177;
    pub const GES_VALUE: usize = 178;
    pub const GES_CLASS: usize = 179;
    pub const PROPERTY_SUBTYPE: usize = 181;
    pub const LATITUDE: usize = 298;
    pub const LONGITUDE: usize = 299;
    pub const FORMAT_VERSION: usize = 301;
    pub const DPE_DATE: usize = 324;

    /// Photo ranks in display order, each with the rank of its caption:
    /// photos 1–9, 10–20 and 21–30 sit in three separate blocks.
    pub const PHOTOS: [(usize, usize); 30] = [
        (85, 94),
        (86, 95),
        (87, 96),
        (88, 97),
        (89, 98),
        (90, 99),
        (91, 100),
        (92, 101),
        (93, 102),
        (164, 274),
        (165, 275),
        (166, 276),
        (167, 277),
        (168, 278),
        (169, 279),
        (170, 280),
        (171, 281),
        (172, 282),
        (173, 283),
        (174, 284),
        (264, 285),
        (265, 286),
        (266, 287),
        (267, 288),
        (268, 289),
        (269, 290),
        (270, 291),
        (271, 292),
        (272, 293),
        (273, 294),
    ];
}

/// All columns of version 4.12, in rank order.
pub static COLUMNS: [Column; COLUMN_COUNT] = [
    Column {
        rank: 1,
        name: "Identifiant agence",
        kind: ValueKind::Text,
    },
    Column {
        rank: 2,
        name: "Référence agence du bien",
        kind: ValueKind::Text,
    },
    Column {
        rank: 3,
        name: "Type d'annonce",
        kind: ValueKind::Text,
    },
    Column {
        rank: 4,
        name: "Type de bien",
        kind: ValueKind::Text,
    },
    Column {
        rank: 5,
        name: "CP",
        kind: ValueKind::Text,
    },
    Column {
        rank: 6,
        name: "Ville",
        kind: ValueKind::Text,
    },
    Column {
        rank: 7,
        name: "Pays",
        kind: ValueKind::Text,
    },
    Column {
        rank: 8,
        name: "Adresse",
        kind: ValueKind::Text,
    },
    Column {
        rank: 9,
        name: "Quartier / Proximité",
        kind: ValueKind::Text,
    },
    Column {
        rank: 10,
        name: "Activités commerciales",
        kind: ValueKind::Text,
    },
    Column {
        rank: 11,
        name: "Prix / Loyer / Prix de cession",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 12,
        name: "Loyer / mois murs",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 13,
        name: "Loyer CC",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 14,
        name: "Loyer HT",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 15,
        name: "Honoraires",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 16,
        name: "Surface (m²)",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 17,
        name: "Surface terrain (m²)",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 18,
        name: "NB de pièces",
        kind: ValueKind::Integer,
    },
    Column {
        rank: 19,
        name: "NB de chambres",
        kind: ValueKind::Integer,
    },
    Column {
        rank: 20,
        name: "Libellé",
        kind: ValueKind::Text,
    },
    Column {
        rank: 21,
        name: "Descriptif",
        kind: ValueKind::Text,
    },
    Column {
        rank: 22,
        name: "Date de disponibilité",
        kind: ValueKind::Date,
    },
    Column {
        rank: 23,
        name: "Charges",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 24,
        name: "Etage",
        kind: ValueKind::Integer,
    },
    Column {
        rank: 25,
        name: "NB d'étages",
        kind: ValueKind::Integer,
    },
    Column {
        rank: 26,
        name: "Meublé",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 27,
        name: "Année de construction",
        kind: ValueKind::Integer,
    },
    Column {
        rank: 28,
        name: "Refait à neuf",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 29,
        name: "NB de salles de bain",
        kind: ValueKind::Integer,
    },
    Column {
        rank: 30,
        name: "NB de salles d'eau",
        kind: ValueKind::Integer,
    },
    Column {
        rank: 31,
        name: "NB de WC",
        kind: ValueKind::Integer,
    },
    Column {
        rank: 32,
        name: "WC séparés",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 33,
        name: "Type de chauffage",
        kind: ValueKind::Integer,
    },
    Column {
        rank: 34,
        name: "Type de cuisine",
        kind: ValueKind::Integer,
    },
    Column {
        rank: 35,
        name: "Orientation sud",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 36,
        name: "Orientation est",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 37,
        name: "Orientation ouest",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 38,
        name: "Orientation nord",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 39,
        name: "NB balcons",
        kind: ValueKind::Integer,
    },
    Column {
        rank: 40,
        name: "SF Balcon",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 41,
        name: "Ascenseur",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 42,
        name: "Cave",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 43,
        name: "NB de parkings",
        kind: ValueKind::Integer,
    },
    Column {
        rank: 44,
        name: "NB de boxes",
        kind: ValueKind::Integer,
    },
    Column {
        rank: 45,
        name: "Digicode",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 46,
        name: "Interphone",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 47,
        name: "Gardien",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 48,
        name: "Terrasse",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 49,
        name: "Prix semaine / basse saison",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 50,
        name: "Prix quinzaine / basse saison",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 51,
        name: "Prix mois / basse saison",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 52,
        name: "Prix semaine / haute saison",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 53,
        name: "Prix quinzaine / haute saison",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 54,
        name: "Prix mois / haute saison",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 55,
        name: "NB de personnes",
        kind: ValueKind::Integer,
    },
    Column {
        rank: 56,
        name: "Type de résidence",
        kind: ValueKind::Text,
    },
    Column {
        rank: 57,
        name: "Situation",
        kind: ValueKind::Text,
    },
    Column {
        rank: 58,
        name: "NB de couverts",
        kind: ValueKind::Integer,
    },
    Column {
        rank: 59,
        name: "NB de lits doubles",
        kind: ValueKind::Integer,
    },
    Column {
        rank: 60,
        name: "NB de lits simples",
        kind: ValueKind::Integer,
    },
    Column {
        rank: 61,
        name: "Alarme",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 62,
        name: "Câble TV",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 63,
        name: "Calme",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 64,
        name: "Climatisation",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 65,
        name: "Piscine",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 66,
        name: "Aménagement pour handicapés",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 67,
        name: "Animaux acceptés",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 68,
        name: "Cheminée",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 69,
        name: "Congélateur",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 70,
        name: "Four",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 71,
        name: "Lave-vaisselle",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 72,
        name: "Micro-ondes",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 73,
        name: "Placards",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 74,
        name: "Téléphone",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 75,
        name: "Proche lac",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 76,
        name: "Proche tennis",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 77,
        name: "Proche pistes de ski",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 78,
        name: "Vue dégagée",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 79,
        name: "Chiffre d'affaire",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 80,
        name: "Longueur façade (m)",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 81,
        name: "Duplex",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 82,
        name: "Publications",
        kind: ValueKind::Text,
    },
    Column {
        rank: 83,
        name: "Mandat en exclusivité",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 84,
        name: "Coup de cœur",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 85,
        name: "Photo 1",
        kind: ValueKind::Text,
    },
    Column {
        rank: 86,
        name: "Photo 2",
        kind: ValueKind::Text,
    },
    Column {
        rank: 87,
        name: "Photo 3",
        kind: ValueKind::Text,
    },
    Column {
        rank: 88,
        name: "Photo 4",
        kind: ValueKind::Text,
    },
    Column {
        rank: 89,
        name: "Photo 5",
        kind: ValueKind::Text,
    },
    Column {
        rank: 90,
        name: "Photo 6",
        kind: ValueKind::Text,
    },
    Column {
        rank: 91,
        name: "Photo 7",
        kind: ValueKind::Text,
    },
    Column {
        rank: 92,
        name: "Photo 8",
        kind: ValueKind::Text,
    },
    Column {
        rank: 93,
        name: "Photo 9",
        kind: ValueKind::Text,
    },
    Column {
        rank: 94,
        name: "Titre photo 1",
        kind: ValueKind::Text,
    },
    Column {
        rank: 95,
        name: "Titre photo 2",
        kind: ValueKind::Text,
    },
    Column {
        rank: 96,
        name: "Titre photo 3",
        kind: ValueKind::Text,
    },
    Column {
        rank: 97,
        name: "Titre photo 4",
        kind: ValueKind::Text,
    },
    Column {
        rank: 98,
        name: "Titre photo 5",
        kind: ValueKind::Text,
    },
    Column {
        rank: 99,
        name: "Titre photo 6",
        kind: ValueKind::Text,
    },
    Column {
        rank: 100,
        name: "Titre photo 7",
        kind: ValueKind::Text,
    },
    Column {
        rank: 101,
        name: "Titre photo 8",
        kind: ValueKind::Text,
    },
    Column {
        rank: 102,
        name: "Titre photo 9",
        kind: ValueKind::Text,
    },
    Column {
        rank: 103,
        name: "Photo panoramique",
        kind: ValueKind::Text,
    },
    Column {
        rank: 104,
        name: "URL visite virtuelle",
        kind: ValueKind::Text,
    },
    Column {
        rank: 105,
        name: "Téléphone à afficher",
        kind: ValueKind::Text,
    },
    Column {
        rank: 106,
        name: "Contact à afficher",
        kind: ValueKind::Text,
    },
    Column {
        rank: 107,
        name: "Email de contact",
        kind: ValueKind::Text,
    },
    Column {
        rank: 108,
        name: "CP réel du bien",
        kind: ValueKind::Text,
    },
    Column {
        rank: 109,
        name: "Ville réelle du bien",
        kind: ValueKind::Text,
    },
    Column {
        rank: 110,
        name: "Inter-cabinet",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 111,
        name: "Inter-cabinet privé",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 112,
        name: "N° de mandat",
        kind: ValueKind::Text,
    },
    Column {
        rank: 113,
        name: "Date mandat",
        kind: ValueKind::Date,
    },
    Column {
        rank: 114,
        name: "Nom mandataire",
        kind: ValueKind::Text,
    },
    Column {
        rank: 115,
        name: "Prénom mandataire",
        kind: ValueKind::Text,
    },
    Column {
        rank: 116,
        name: "Raison sociale mandataire",
        kind: ValueKind::Text,
    },
    Column {
        rank: 117,
        name: "Adresse mandataire",
        kind: ValueKind::Text,
    },
    Column {
        rank: 118,
        name: "CP mandataire",
        kind: ValueKind::Text,
    },
    Column {
        rank: 119,
        name: "Ville mandataire",
        kind: ValueKind::Text,
    },
    Column {
        rank: 120,
        name: "Téléphone mandataire",
        kind: ValueKind::Text,
    },
    Column {
        rank: 121,
        name: "Commentaires mandataire",
        kind: ValueKind::Text,
    },
    Column {
        rank: 122,
        name: "Commentaires privés",
        kind: ValueKind::Text,
    },
    Column {
        rank: 123,
        name: "Code négociateur",
        kind: ValueKind::Text,
    },
    Column {
        rank: 124,
        name: "Code langue 1",
        kind: ValueKind::Text,
    },
    Column {
        rank: 125,
        name: "Proximité langue 1",
        kind: ValueKind::Text,
    },
    Column {
        rank: 126,
        name: "Libellé langue 1",
        kind: ValueKind::Text,
    },
    Column {
        rank: 127,
        name: "Descriptif langue 1",
        kind: ValueKind::Text,
    },
    Column {
        rank: 128,
        name: "Code langue 2",
        kind: ValueKind::Text,
    },
    Column {
        rank: 129,
        name: "Proximité langue 2",
        kind: ValueKind::Text,
    },
    Column {
        rank: 130,
        name: "Libellé langue 2",
        kind: ValueKind::Text,
    },
    Column {
        rank: 131,
        name: "Descriptif langue 2",
        kind: ValueKind::Text,
    },
    Column {
        rank: 132,
        name: "Code langue 3",
        kind: ValueKind::Text,
    },
    Column {
        rank: 133,
        name: "Proximité langue 3",
        kind: ValueKind::Text,
    },
    Column {
        rank: 134,
        name: "Libellé langue 3",
        kind: ValueKind::Text,
    },
    Column {
        rank: 135,
        name: "Descriptif langue 3",
        kind: ValueKind::Text,
    },
    Column {
        rank: 136,
        name: "Champ personnalisé 1",
        kind: ValueKind::Text,
    },
    Column {
        rank: 137,
        name: "Champ personnalisé 2",
        kind: ValueKind::Text,
    },
    Column {
        rank: 138,
        name: "Champ personnalisé 3",
        kind: ValueKind::Text,
    },
    Column {
        rank: 139,
        name: "Champ personnalisé 4",
        kind: ValueKind::Text,
    },
    Column {
        rank: 140,
        name: "Champ personnalisé 5",
        kind: ValueKind::Text,
    },
    Column {
        rank: 141,
        name: "Champ personnalisé 6",
        kind: ValueKind::Text,
    },
    Column {
        rank: 142,
        name: "Champ personnalisé 7",
        kind: ValueKind::Text,
    },
    Column {
        rank: 143,
        name: "Champ personnalisé 8",
        kind: ValueKind::Text,
    },
    Column {
        rank: 144,
        name: "Champ personnalisé 9",
        kind: ValueKind::Text,
    },
    Column {
        rank: 145,
        name: "Champ personnalisé 10",
        kind: ValueKind::Text,
    },
    Column {
        rank: 146,
        name: "Champ personnalisé 11",
        kind: ValueKind::Text,
    },
    Column {
        rank: 147,
        name: "Champ personnalisé 12",
        kind: ValueKind::Text,
    },
    Column {
        rank: 148,
        name: "Champ personnalisé 13",
        kind: ValueKind::Text,
    },
    Column {
        rank: 149,
        name: "Champ personnalisé 14",
        kind: ValueKind::Text,
    },
    Column {
        rank: 150,
        name: "Champ personnalisé 15",
        kind: ValueKind::Text,
    },
    Column {
        rank: 151,
        name: "Champ personnalisé 16",
        kind: ValueKind::Text,
    },
    Column {
        rank: 152,
        name: "Champ personnalisé 17",
        kind: ValueKind::Text,
    },
    Column {
        rank: 153,
        name: "Champ personnalisé 18",
        kind: ValueKind::Text,
    },
    Column {
        rank: 154,
        name: "Champ personnalisé 19",
        kind: ValueKind::Text,
    },
    Column {
        rank: 155,
        name: "Champ personnalisé 20",
        kind: ValueKind::Text,
    },
    Column {
        rank: 156,
        name: "Champ personnalisé 21",
        kind: ValueKind::Text,
    },
    Column {
        rank: 157,
        name: "Champ personnalisé 22",
        kind: ValueKind::Text,
    },
    Column {
        rank: 158,
        name: "Champ personnalisé 23",
        kind: ValueKind::Text,
    },
    Column {
        rank: 159,
        name: "Champ personnalisé 24",
        kind: ValueKind::Text,
    },
    Column {
        rank: 160,
        name: "Champ personnalisé 25",
        kind: ValueKind::Text,
    },
    Column {
        rank: 161,
        name: "Dépôt de garantie",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 162,
        name: "Récent",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 163,
        name: "Travaux à prévoir",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 164,
        name: "Photo 10",
        kind: ValueKind::Text,
    },
    Column {
        rank: 165,
        name: "Photo 11",
        kind: ValueKind::Text,
    },
    Column {
        rank: 166,
        name: "Photo 12",
        kind: ValueKind::Text,
    },
    Column {
        rank: 167,
        name: "Photo 13",
        kind: ValueKind::Text,
    },
    Column {
        rank: 168,
        name: "Photo 14",
        kind: ValueKind::Text,
    },
    Column {
        rank: 169,
        name: "Photo 15",
        kind: ValueKind::Text,
    },
    Column {
        rank: 170,
        name: "Photo 16",
        kind: ValueKind::Text,
    },
    Column {
        rank: 171,
        name: "Photo 17",
        kind: ValueKind::Text,
    },
    Column {
        rank: 172,
        name: "Photo 18",
        kind: ValueKind::Text,
    },
    Column {
        rank: 173,
        name: "Photo 19",
        kind: ValueKind::Text,
    },
    Column {
        rank: 174,
        name: "Photo 20",
        kind: ValueKind::Text,
    },
    Column {
        rank: 175,
        name: "Identifiant technique",
        kind: ValueKind::Text,
    },
    Column {
        rank: 176,
        name: "Consommation énergie",
        kind: ValueKind::Integer,
    },
    Column {
        rank: 177,
        name: "Bilan consommation énergie",
        kind: ValueKind::Text,
    },
    Column {
        rank: 178,
        name: "Emissions GES",
        kind: ValueKind::Integer,
    },
    Column {
        rank: 179,
        name: "Bilan émission GES",
        kind: ValueKind::Text,
    },
    Column {
        rank: 180,
        name: "Identifiant quartier",
        kind: ValueKind::Obsolete,
    },
    Column {
        rank: 181,
        name: "Sous type de bien",
        kind: ValueKind::Text,
    },
    Column {
        rank: 182,
        name: "Périodes de disponibilité",
        kind: ValueKind::Text,
    },
    Column {
        rank: 183,
        name: "Périodes basse saison",
        kind: ValueKind::Text,
    },
    Column {
        rank: 184,
        name: "Périodes haute saison",
        kind: ValueKind::Text,
    },
    Column {
        rank: 185,
        name: "Prix du bouquet",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 186,
        name: "Rente mensuelle",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 187,
        name: "Âge de l'homme",
        kind: ValueKind::Integer,
    },
    Column {
        rank: 188,
        name: "Âge de la femme",
        kind: ValueKind::Integer,
    },
    Column {
        rank: 189,
        name: "Entrée",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 190,
        name: "Résidence",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 191,
        name: "Parquet",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 192,
        name: "Vis-à-vis",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 193,
        name: "Transport : ligne",
        kind: ValueKind::Text,
    },
    Column {
        rank: 194,
        name: "Transport : station",
        kind: ValueKind::Text,
    },
    Column {
        rank: 195,
        name: "Durée bail",
        kind: ValueKind::Integer,
    },
    Column {
        rank: 196,
        name: "Places en salle",
        kind: ValueKind::Integer,
    },
    Column {
        rank: 197,
        name: "Monte-charge",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 198,
        name: "Quai",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 199,
        name: "Nombre de bureaux",
        kind: ValueKind::Integer,
    },
    Column {
        rank: 200,
        name: "Prix du droit d'entrée",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 201,
        name: "Prix masqué",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 202,
        name: "Loyer annuel global",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 203,
        name: "Charges annuelles globales",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 204,
        name: "Loyer annuel au m²",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 205,
        name: "Charges annuelles au m²",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 206,
        name: "Charges mensuelles HT",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 207,
        name: "Loyer annuel CC",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 208,
        name: "Loyer annuel HT",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 209,
        name: "Charges annuelles HT",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 210,
        name: "Loyer annuel au m² CC",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 211,
        name: "Loyer annuel au m² HT",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 212,
        name: "Charges annuelles au m² HT",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 213,
        name: "Divisible",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 214,
        name: "Surface divisible minimale",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 215,
        name: "Surface divisible maximale",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 216,
        name: "Surface séjour",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 217,
        name: "Nombre de véhicules",
        kind: ValueKind::Integer,
    },
    Column {
        rank: 218,
        name: "Prix du droit au bail",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 219,
        name: "Valeur à l'achat",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 220,
        name: "Répartition du chiffre d'affaire",
        kind: ValueKind::Text,
    },
    Column {
        rank: 221,
        name: "Terrain agricole",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 222,
        name: "Équipement bébé",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 223,
        name: "Terrain constructible",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 224,
        name: "Résultat année N-2",
        kind: ValueKind::Integer,
    },
    Column {
        rank: 225,
        name: "Résultat année N-1",
        kind: ValueKind::Integer,
    },
    Column {
        rank: 226,
        name: "Résultat actuel",
        kind: ValueKind::Integer,
    },
    Column {
        rank: 227,
        name: "Immeuble de parkings",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 228,
        name: "Parking isolé",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 229,
        name: "Si viager vendu libre",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 230,
        name: "Logement à disposition",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 231,
        name: "Terrain en pente",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 232,
        name: "Plan d'eau",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 233,
        name: "Lave-linge",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 234,
        name: "Sèche-linge",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 235,
        name: "Connexion internet",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 236,
        name: "Chiffre d'affaire année N-2",
        kind: ValueKind::Integer,
    },
    Column {
        rank: 237,
        name: "Chiffre d'affaire année N-1",
        kind: ValueKind::Integer,
    },
    Column {
        rank: 238,
        name: "Conditions financières",
        kind: ValueKind::Text,
    },
    Column {
        rank: 239,
        name: "Prestations diverses",
        kind: ValueKind::Text,
    },
    Column {
        rank: 240,
        name: "Longueur façade",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 241,
        name: "Montant du rapport",
        kind: ValueKind::Text,
    },
    Column {
        rank: 242,
        name: "Nature du bail",
        kind: ValueKind::Text,
    },
    Column {
        rank: 243,
        name: "Nature bail commercial",
        kind: ValueKind::Text,
    },
    Column {
        rank: 244,
        name: "Nombre terrasses",
        kind: ValueKind::Integer,
    },
    Column {
        rank: 245,
        name: "Prix hors taxes",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 246,
        name: "Si salle à manger",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 247,
        name: "Si séjour",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 248,
        name: "Terrain donne sur la rue",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 249,
        name: "Immeuble de type bureaux",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 250,
        name: "Terrain viabilisé",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 251,
        name: "Équipement vidéo",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 252,
        name: "Surface de la cave",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 253,
        name: "Surface de la salle à manger",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 254,
        name: "Situation commerciale",
        kind: ValueKind::Text,
    },
    Column {
        rank: 255,
        name: "Surface maximale d'un bureau",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 256,
        name: "Honoraires charge acquéreur",
        kind: ValueKind::Obsolete,
    },
    Column {
        rank: 257,
        name: "Pourcentage honoraires TTC",
        kind: ValueKind::Obsolete,
    },
    Column {
        rank: 258,
        name: "En copropriété",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 259,
        name: "Nombre de lots",
        kind: ValueKind::Integer,
    },
    Column {
        rank: 260,
        name: "Charges annuelles",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 261,
        name: "Syndicat des copropriétaires en procédure",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 262,
        name: "Détail procédure du syndicat",
        kind: ValueKind::Text,
    },
    Column {
        rank: 263,
        name: "Champ personnalisé 26",
        kind: ValueKind::Text,
    },
    Column {
        rank: 264,
        name: "Photo 21",
        kind: ValueKind::Text,
    },
    Column {
        rank: 265,
        name: "Photo 22",
        kind: ValueKind::Text,
    },
    Column {
        rank: 266,
        name: "Photo 23",
        kind: ValueKind::Text,
    },
    Column {
        rank: 267,
        name: "Photo 24",
        kind: ValueKind::Text,
    },
    Column {
        rank: 268,
        name: "Photo 25",
        kind: ValueKind::Text,
    },
    Column {
        rank: 269,
        name: "Photo 26",
        kind: ValueKind::Text,
    },
    Column {
        rank: 270,
        name: "Photo 27",
        kind: ValueKind::Text,
    },
    Column {
        rank: 271,
        name: "Photo 28",
        kind: ValueKind::Text,
    },
    Column {
        rank: 272,
        name: "Photo 29",
        kind: ValueKind::Text,
    },
    Column {
        rank: 273,
        name: "Photo 30",
        kind: ValueKind::Text,
    },
    Column {
        rank: 274,
        name: "Titre photo 10",
        kind: ValueKind::Text,
    },
    Column {
        rank: 275,
        name: "Titre photo 11",
        kind: ValueKind::Text,
    },
    Column {
        rank: 276,
        name: "Titre photo 12",
        kind: ValueKind::Text,
    },
    Column {
        rank: 277,
        name: "Titre photo 13",
        kind: ValueKind::Text,
    },
    Column {
        rank: 278,
        name: "Titre photo 14",
        kind: ValueKind::Text,
    },
    Column {
        rank: 279,
        name: "Titre photo 15",
        kind: ValueKind::Text,
    },
    Column {
        rank: 280,
        name: "Titre photo 16",
        kind: ValueKind::Text,
    },
    Column {
        rank: 281,
        name: "Titre photo 17",
        kind: ValueKind::Text,
    },
    Column {
        rank: 282,
        name: "Titre photo 18",
        kind: ValueKind::Text,
    },
    Column {
        rank: 283,
        name: "Titre photo 19",
        kind: ValueKind::Text,
    },
    Column {
        rank: 284,
        name: "Titre photo 20",
        kind: ValueKind::Text,
    },
    Column {
        rank: 285,
        name: "Titre photo 21",
        kind: ValueKind::Text,
    },
    Column {
        rank: 286,
        name: "Titre photo 22",
        kind: ValueKind::Text,
    },
    Column {
        rank: 287,
        name: "Titre photo 23",
        kind: ValueKind::Text,
    },
    Column {
        rank: 288,
        name: "Titre photo 24",
        kind: ValueKind::Text,
    },
    Column {
        rank: 289,
        name: "Titre photo 25",
        kind: ValueKind::Text,
    },
    Column {
        rank: 290,
        name: "Titre photo 26",
        kind: ValueKind::Text,
    },
    Column {
        rank: 291,
        name: "Titre photo 27",
        kind: ValueKind::Text,
    },
    Column {
        rank: 292,
        name: "Titre photo 28",
        kind: ValueKind::Text,
    },
    Column {
        rank: 293,
        name: "Titre photo 29",
        kind: ValueKind::Text,
    },
    Column {
        rank: 294,
        name: "Titre photo 30",
        kind: ValueKind::Text,
    },
    Column {
        rank: 295,
        name: "Prix du terrain",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 296,
        name: "Prix du modèle de maison",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 297,
        name: "Nom de l'agence gérant le terrain",
        kind: ValueKind::Text,
    },
    Column {
        rank: 298,
        name: "Latitude",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 299,
        name: "Longitude",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 300,
        name: "Précision GPS",
        kind: ValueKind::Integer,
    },
    Column {
        rank: 301,
        name: "Version format",
        kind: ValueKind::Text,
    },
    Column {
        rank: 302,
        name: "Honoraires à la charge de",
        kind: ValueKind::Integer,
    },
    Column {
        rank: 303,
        name: "Prix hors honoraires acquéreur",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 304,
        name: "Modalités charges locataire",
        kind: ValueKind::Integer,
    },
    Column {
        rank: 305,
        name: "Complément loyer",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 306,
        name: "Part honoraires état des lieux",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 307,
        name: "URL du barème des honoraires",
        kind: ValueKind::Text,
    },
    Column {
        rank: 308,
        name: "Prix minimum",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 309,
        name: "Prix maximum",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 310,
        name: "Surface minimale",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 311,
        name: "Surface maximale",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 312,
        name: "Nombre de pièces minimum",
        kind: ValueKind::Integer,
    },
    Column {
        rank: 313,
        name: "Nombre de pièces maximum",
        kind: ValueKind::Integer,
    },
    Column {
        rank: 314,
        name: "Nombre de chambres minimum",
        kind: ValueKind::Integer,
    },
    Column {
        rank: 315,
        name: "Nombre de chambres maximum",
        kind: ValueKind::Integer,
    },
    Column {
        rank: 316,
        name: "ID type étage",
        kind: ValueKind::Integer,
    },
    Column {
        rank: 317,
        name: "Si combles aménageables",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 318,
        name: "Si garage",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 319,
        name: "ID type garage",
        kind: ValueKind::Integer,
    },
    Column {
        rank: 320,
        name: "Si possibilité mitoyenneté",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 321,
        name: "Surface terrain nécessaire",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 322,
        name: "Localisation",
        kind: ValueKind::Text,
    },
    Column {
        rank: 323,
        name: "Nom du modèle",
        kind: ValueKind::Text,
    },
    Column {
        rank: 324,
        name: "Date réalisation DPE",
        kind: ValueKind::Date,
    },
    Column {
        rank: 325,
        name: "Version DPE",
        kind: ValueKind::Text,
    },
    Column {
        rank: 326,
        name: "DPE coût min conso",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 327,
        name: "DPE coût max conso",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 328,
        name: "DPE année / date de référence conso",
        kind: ValueKind::Text,
    },
    Column {
        rank: 329,
        name: "Surface terrasse",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 330,
        name: "DPE coût conso annuelle",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 331,
        name: "Loyer de base",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 332,
        name: "Loyer de référence majoré",
        kind: ValueKind::Decimal,
    },
    Column {
        rank: 333,
        name: "Encadrement des loyers",
        kind: ValueKind::Boolean,
    },
    Column {
        rank: 334,
        name: "Conso énergie finale",
        kind: ValueKind::Integer,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_ranks_follow_their_index() {
        for (index, column) in COLUMNS.iter().enumerate() {
            assert_eq!(column.rank, index + 1, "{}", column.name);
        }
    }

    #[test]
    fn named_ranks_match_the_specification() {
        assert_eq!(column(rank::TECHNICAL_ID).unwrap().name, "Identifiant technique");
        assert_eq!(column(rank::TITLE).unwrap().name, "Libellé");
        assert_eq!(
            column(rank::DPE_CLASS).unwrap().name,
            "Bilan consommation énergie"
        );
        assert_eq!(column(rank::FORMAT_VERSION).unwrap().name, "Version format");
        assert_eq!(column(85).unwrap().name, "Photo 1");
        assert_eq!(column(164).unwrap().name, "Photo 10");
        assert_eq!(column(264).unwrap().name, "Photo 21");
        assert_eq!(column(274).unwrap().name, "Titre photo 10");
        assert_eq!(column(294).unwrap().name, "Titre photo 30");
    }

    #[test]
    fn photo_captions_pair_with_their_photo() {
        for (index, (photo, caption)) in rank::PHOTOS.iter().enumerate() {
            let number = index + 1;
            assert_eq!(column(*photo).unwrap().name, format!("Photo {number}"));
            assert_eq!(column(*caption).unwrap().name, format!("Titre photo {number}"));
        }
    }

    #[test]
    fn ranks_past_the_table_are_named_by_number() {
        assert!(column(0).is_none());
        assert!(column(335).is_none());
        assert_eq!(column_name(335), "colonne 335");
    }
}
