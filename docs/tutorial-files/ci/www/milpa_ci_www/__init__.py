"""A minimal stand-in for buildbot-www (which Debian does not package): Buildbot's REST API at
/api/v2 and one page listing the builds, so the CI tutorial runs from Debian's packages alone."""
from buildbot.www.plugin import Application

ep = Application(__name__, "Milpa CI tutorial: builds page")
