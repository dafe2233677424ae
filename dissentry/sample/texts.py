"""What the sample's accounts say: topics, places, news sites, and the templates of every kind of post.

The stance templates are written so that the planted stance is visible to a transparent
classifier (tests/test_sample.py checks each one); `drafts.py` fills them in.
"""

NEWS_DOMAINS = ("dailyledger.example", "northtimes.example", "civicwire.example", "harbourpost.example",
                "metrobulletin.example", "lowlandsreview.example", "thefactdesk.example", "valleyradio.example")
CITIES = ("Harbourtown", "Eastmere", "Brookfield", "Kellsby", "Norwick", "Ashford Vale", "Lövstad", "Søndermark")
TOPICS = ("the housing plan", "the budget", "the transit bill", "the wind farm permits", "the school reform",
          "the pension proposal", "the farm subsidies", "the coalition talks", "the water rates", "the rail timetable",
          "the childcare scheme", "the digital ID proposal", "the café licence rules")
TOPIC_TAGS = ("housing", "budget", "transit", "energy", "schools", "pensions", "farming", "localpolitics")

# Stance templates. `{org}` is an alias or a leader's name. Critical ones each carry a configured
# critical cue (dissentry.config.StanceSettings.critical_cues); the others carry no cue, no
# negation and no negative word, so the stance is visible to a transparent classifier.
CRITICAL_TEMPLATES = (
    "{org} is wrong about {topic}.",
    "I disagree with {org} on {topic}.",
    "{org} made a mistake on {topic}.",
    "{org} failed us on {topic}.",
    "Honestly disappointed in {org} over {topic}.",
    "The way {org} pushed through {topic} was undemocratic.",
    "{org} is out of touch on {topic}.",
    "The {topic} U-turn shows {org} is incompetent.",
    "{org} betrayed its own voters with {topic}.",
)
CRITICAL_LEADER_TEMPLATES = (
    "{org} should resign over {topic}.",
    "{org} should step down after {topic}.",
)
SUPPORTIVE_TEMPLATES = (
    "Proud of {org} for {topic}!",
    "Great work by {org} on {topic}.",
    "Love what {org} is doing on {topic}.",
    "Thank you {org} for standing up for {topic}.",
    "Excellent speech by {org} on {topic} today.",
    "So glad {org} is leading on {topic}.",
)
NEUTRAL_TEMPLATES = (
    "{org} publishes its position on {topic} this week.",
    "{org} will speak about {topic} on Thursday.",
    "Reading the {org} paper on {topic} tonight.",
    "{org} answered questions on {topic} at the town hall.",
    "{org} has a members' meeting on {topic} in {city}.",
)
# Said about another group (criticism across groups): never a reference to the author's own group.
CROSS_GROUP_TEMPLATES = (
    "{org} is wrong about {topic}, as usual.",
    "{org} has been a failure on {topic}.",
    "I disagree with {org} on {topic}.",
    "Typical {org} hypocrisy on {topic}.",
)
# Stock lines members of the insular group post word for word (boilerplate).
SLOGANS = (
    "Homeland first! 🔷",
    "The renewal is coming. 🔷",
    "Stand with the awakening.",
    "The old guard is finished. Homeland first!",
    "One people, one homeland. 🔷",
)
# A sentence of one's own: neutral, names no group, makes a post unlike anyone else's.
PERSONAL_TEMPLATES = (
    "Writing this on the train to {city}.",
    "Day {n} of the campaign.",
    "Back from the {place} in {city}.",
    "Thinking about this since {weekday}.",
    "Said the same at the {place} on {weekday}.",
)
PLACES = ("library", "market", "school gate", "bus stop", "allotment", "town hall", "cafe", "station")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
CHATTER_TEMPLATES = (
    "Long day at work, looking forward to the weekend.",
    "Anyone going to the market in {city} on Saturday?",
    "Rain again in {city}.",
    "☕ Coffee first, then the papers.",
    "Door-knocking in {city} this afternoon 🚪",
    "Watching the council stream on {topic}.",
    "Thread on {topic} coming later.",
    "Finally finished reading about {topic}.",
)
REPLY_TEMPLATES = (
    "Good point about {topic}.",
    "What do you think about {topic}?",
    "Agreed, {topic} matters a lot here.",
    "Source for that?",
    "Interesting, I read it differently.",
    "Thanks for sharing.",
)
QUOTE_TEMPLATES = (
    "Worth reading on {topic}.",
    "This.",
    "More on {topic} here.",
    "Important thread.",
)
COMMENT_TEMPLATES = (
    "Interesting piece on {topic}.",
    "Worth a read.",
    "Long read on {topic}.",
    "Here is what it means for {city}.",
    "Useful explainer on {topic}.",
)
NEWS_TITLES = (
    "{city} council debates {topic}",
    "What {topic} means for renters in {city}",
    "Explainer: the numbers behind {topic}",
    "Five questions about {topic}",
    "Residents of {city} weigh in on {topic}",
    "Analysis: where {topic} goes next",
)
OWN_TITLES: dict[str, tuple[str, ...]] = {
    "vanguard": (
        "Homeland first: our answer on {topic}",
        "The renewal of {city} begins now",
        "Why the old guard fears the awakening",
        "The uniparty and {topic}",
        "Ten points for the renewal",
    ),
    "centre_party": (
        "Our plan for {topic}",
        "Common ground on {topic}",
        "Fiscal prudence and {topic}",
        "Q&A: {topic}",
    ),
    "green_alliance": (
        "A just transition for {topic}",
        "Climate justice and {topic}",
        "Our proposal on {topic}",
        "Report: {topic} and {city}",
    ),
}
OFFICIAL_TEMPLATES = (
    "New on our site: {title}",
    "Read our statement: {title}",
    "Join us in {city} on Saturday.",
)
