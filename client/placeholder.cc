namespace crossfarm {}
