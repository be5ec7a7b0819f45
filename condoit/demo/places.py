"""Where demo facilities stand and what they and their people are called.

Cities with their climate, street names, facility-name pools, buildings and rooms by facility
type, and electrical contractors; :func:`facility_name` composes a plausible site name.
"""

from __future__ import annotations

import random

# fmt: off
# name, state, lat, lng, ZIP prefix, IATA-ish code, standard UTC offset (h), observes DST,
# typical indoor humidity (% RH), typical electrical-room temperature (°F), coastal
CITIES = (
    ("New York", "NY", 40.7128, -74.0060, "100", "NYC", -5, True, 58, 78, True),
    ("Chicago", "IL", 41.8781, -87.6298, "606", "ORD", -6, True, 55, 76, False),
    ("Houston", "TX", 29.7604, -95.3698, "770", "IAH", -6, True, 72, 84, True),
    ("Phoenix", "AZ", 33.4484, -112.0740, "850", "PHX", -7, False, 30, 88, False),
    ("Philadelphia", "PA", 39.9526, -75.1652, "191", "PHL", -5, True, 58, 77, False),
    ("San Antonio", "TX", 29.4241, -98.4936, "782", "SAT", -6, True, 60, 84, False),
    ("San Diego", "CA", 32.7157, -117.1611, "921", "SAN", -8, True, 62, 76, True),
    ("Dallas", "TX", 32.7767, -96.7970, "752", "DFW", -6, True, 56, 83, False),
    ("San Jose", "CA", 37.3382, -121.8863, "951", "SJC", -8, True, 50, 74, False),
    ("Austin", "TX", 30.2672, -97.7431, "787", "AUS", -6, True, 60, 83, False),
    ("Jacksonville", "FL", 30.3322, -81.6557, "322", "JAX", -5, True, 72, 82, True),
    ("Columbus", "OH", 39.9612, -82.9988, "432", "CMH", -5, True, 56, 75, False),
    ("Charlotte", "NC", 35.2271, -80.8431, "282", "CLT", -5, True, 60, 78, False),
    ("Indianapolis", "IN", 39.7684, -86.1581, "462", "IND", -5, True, 57, 76, False),
    ("Seattle", "WA", 47.6062, -122.3321, "981", "SEA", -8, True, 64, 71, True),
    ("Denver", "CO", 39.7392, -104.9903, "802", "DEN", -7, True, 38, 74, False),
    ("Washington", "DC", 38.9072, -77.0369, "200", "IAD", -5, True, 60, 78, False),
    ("Boston", "MA", 42.3601, -71.0589, "021", "BOS", -5, True, 60, 74, True),
    ("Nashville", "TN", 36.1627, -86.7816, "372", "BNA", -6, True, 62, 79, False),
    ("Detroit", "MI", 42.3314, -83.0458, "482", "DTW", -5, True, 57, 75, False),
    ("Portland", "OR", 45.5152, -122.6784, "972", "PDX", -8, True, 63, 72, False),
    ("Las Vegas", "NV", 36.1699, -115.1398, "891", "LAS", -8, True, 26, 87, False),
    ("Memphis", "TN", 35.1495, -90.0490, "381", "MEM", -6, True, 64, 81, False),
    ("Atlanta", "GA", 33.7490, -84.3880, "303", "ATL", -5, True, 63, 80, False),
    ("Miami", "FL", 25.7617, -80.1918, "331", "MIA", -5, True, 76, 86, True),
    ("Minneapolis", "MN", 44.9778, -93.2650, "554", "MSP", -6, True, 52, 73, False),
    ("Tampa", "FL", 27.9506, -82.4572, "336", "TPA", -5, True, 73, 85, True),
    ("New Orleans", "LA", 29.9511, -90.0715, "701", "MSY", -6, True, 77, 85, True),
    ("Kansas City", "MO", 39.0997, -94.5786, "641", "MCI", -6, True, 58, 78, False),
    ("Salt Lake City", "UT", 40.7608, -111.8910, "841", "SLC", -7, True, 36, 75, False),
    ("Pittsburgh", "PA", 40.4406, -79.9959, "152", "PIT", -5, True, 58, 74, False),
    ("St. Louis", "MO", 38.6270, -90.1994, "631", "STL", -6, True, 60, 79, False),
    ("Sacramento", "CA", 38.5816, -121.4944, "958", "SMF", -8, True, 48, 80, False),
    ("Raleigh", "NC", 35.7796, -78.6382, "276", "RDU", -5, True, 62, 78, False),
    ("Albuquerque", "NM", 35.0844, -106.6504, "871", "ABQ", -7, True, 32, 79, False),
    ("Tucson", "AZ", 32.2226, -110.9747, "857", "TUS", -7, False, 30, 88, False),
    ("Honolulu", "HI", 21.3069, -157.8583, "968", "HNL", -10, False, 70, 84, True),
    ("Anchorage", "AK", 61.2181, -149.9003, "995", "ANC", -9, True, 50, 68, True),
    ("Oklahoma City", "OK", 35.4676, -97.5164, "731", "OKC", -6, True, 58, 81, False),
    ("Milwaukee", "WI", 43.0389, -87.9065, "532", "MKE", -6, True, 55, 73, True),
)

STREET_NAMES = (
    "Main St", "Market St", "W Madison St", "Commerce St", "Broadway", "Elm St", "Oak Ave",
    "Park Ave", "Industrial Pkwy", "Technology Dr", "Harbor Blvd", "Lakeshore Dr", "Pine St",
    "Washington Ave", "Jefferson Blvd", "Medical Center Dr", "University Ave", "Riverside Dr",
    "Airport Rd", "Distribution Way", "Congress Ave", "Peachtree St NE", "5th Ave", "N 3rd St",
    "Mill Rd", "Franklin St", "Grand Ave", "Center St", "Highland Ave", "Enterprise Blvd",
)

_ADJ = (
    "Meridian", "Harbor", "Summit", "Liberty", "Park", "Riverside", "Capitol", "Commerce",
    "Gateway", "Lakeview", "Union", "Franklin", "Pinnacle", "Heritage", "Madison", "Crescent",
    "Ashford", "Westgate", "Northpoint", "Cedar", "Ironwood", "Bayside", "Stonebridge",
    "Fairview", "Highland", "Sterling", "Pioneer", "Granite", "Oakmont", "Parkway",
)
_SAINTS = (
    "St. Mary's", "St. Joseph's", "St. Luke's", "Mercy", "Good Samaritan", "Providence",
    "Baptist", "Methodist", "Presbyterian", "Sacred Heart",
)
_PRESIDENTS = (
    "Lincoln", "Washington", "Jefferson", "Roosevelt", "Kennedy", "Madison", "Franklin",
    "Hamilton", "Jackson", "Adams", "Monroe", "Grant",
)

BUILDINGS = {
    "office": ("Tower", "Building 1", "Building 2", "Parking Garage", "North Wing"),
    "hospital": ("Main Hospital", "North Tower", "Central Plant", "Medical Office Building",
                 "Building 1", "Emergency Department"),
    "datacenter": ("Data Hall 1", "Data Hall 2", "Building 1", "Building 2", "Central Plant"),
    "warehouse": ("Building 1", "Building 2", "Building 3", "Cold Storage", "Office Annex"),
    "school": ("Main Building", "Gymnasium", "Building A", "Building B", "Science Wing"),
    "retail": ("Main Building", "Anchor Store", "Building 1", "Building 2", "Food Court"),
}
ROOMS = (
    "Main Electrical Room", "Electrical Room 1", "Electrical Room 2", "Electrical Room 3",
    "Switchgear Room", "Basement Electrical Room", "IDF 2", "Mechanical Room", "Roof",
    "Level 2 Electrical Closet", "Level 4 Electrical Closet", "Generator Yard",
    "UPS Room", "Loading Dock", "Boiler Room", "Electrical Room B-104",
)

CONTRACTORS = (
    "Rosendin Electric", "Cupertino Electric", "Faith Technologies", "IES Commercial",
    "Helix Electric", "Dynalectric", "Sachs Electric", "Mass Electric Construction",
    "Power Design Inc.", "Cache Valley Electric", "Morrow-Meadows Corporation",
    "Miller Electric Company", "Newkirk Electric Associates", "Bergelectric",
    "Walker Engineering", "Interstate Electrical Services", "Summit Electric Co.",
    "Apex Power Services LLC",
)
# fmt: on


def facility_name(rng: random.Random, kind: str, city: tuple) -> str:
    """A site name that fits the facility type and its city."""
    a = rng.choice(_ADJ)
    cname = city[0]
    if kind == "office":
        return rng.choice(
            (
                f"{a} Tower",
                f"{a} Plaza",
                f"One {a} Center",
                f"{a} Corporate Center",
                f"{rng.randint(100, 2400)} {rng.choice(STREET_NAMES)}",
                f"{cname} {a} Office Park",
            )
        )
    if kind == "hospital":
        return rng.choice(
            (
                f"{rng.choice(_SAINTS)} Medical Center",
                f"{a} General Hospital",
                f"{cname} Regional Medical Center",
                f"{a} Children's Hospital",
                f"{rng.choice(_SAINTS)} Hospital - {cname}",
                f"{a} Memorial Hospital",
            )
        )
    if kind == "datacenter":
        return rng.choice(
            (
                f"{a} Data Center {city[5]}-{rng.randint(1, 9)}",
                f"{a} Colocation Campus",
                f"{cname} Data Center {rng.randint(1, 4)}",
                f"{city[5]}{rng.randint(1, 12)} - {a} Cloud",
            )
        )
    if kind == "warehouse":
        return rng.choice(
            (
                f"{a} Distribution Center",
                f"{a} Logistics Warehouse {rng.randint(1, 12)}",
                f"{cname} Fulfillment Center {city[5]}{rng.randint(1, 9)}",
                f"{a} Cold Storage",
                f"{a} Industrial Park Bldg {rng.randint(1, 8)}",
            )
        )
    if kind == "school":
        return rng.choice(
            (
                f"{rng.choice(_PRESIDENTS)} High School",
                f"{rng.choice(_PRESIDENTS)} Elementary School",
                f"{rng.choice(_PRESIDENTS)} Middle School",
                f"{cname} Community College",
                f"{a} Academy",
            )
        )
    return rng.choice(
        (
            f"{a} Mall",
            f"{a} Shopping Center",
            f"{a} Town Center",
            f"{a} Marketplace",
            f"{a} Commons",
            f"{cname} Premium Outlets",
        )
    )
