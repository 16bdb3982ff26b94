"""Who is connected, where and since when; live attendance and absence notices.

Not built yet: the realtime server tracks connections per node; attendance comes next.
"""
