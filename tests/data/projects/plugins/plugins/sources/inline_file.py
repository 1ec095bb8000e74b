# A source plugin that stages one file whose content is in the element
# (`filename:`, `content:`): always cached, no ref to track.
import os

from buildstream import Source, Consistency


class InlineFileSource(Source):
    BST_FORMAT_VERSION = 0

    def configure(self, node):
        self.node_validate(node, ['filename', 'content'] + Source.COMMON_CONFIG_KEYS)
        self.filename = self.node_get_member(node, str, 'filename')
        self.content = self.node_get_member(node, str, 'content')

    def preflight(self):
        pass

    def get_unique_key(self):
        return [self.filename, self.content]

    def get_consistency(self):
        return Consistency.CACHED

    def load_ref(self, node):
        pass

    def get_ref(self):
        return None

    def set_ref(self, ref, node):
        pass

    def track(self):
        return None

    def fetch(self):
        pass

    def stage(self, directory):
        with open(os.path.join(directory, self.filename), 'w') as f:
            f.write(self.content)


def setup():
    return InlineFileSource
