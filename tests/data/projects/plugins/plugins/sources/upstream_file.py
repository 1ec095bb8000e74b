# A source plugin with a real ref: `path:` names a file of the project (the
# "upstream"), track() records the sha256 of its content as `ref`, fetch()
# copies that content into the mirror directory, stage() copies it from there.
# tests/e2e/plugins_e2e_test.cc tracks, fetches and builds it with bst and with
# crossfarm.
import hashlib
import os
import shutil

from buildstream import Source, SourceError, Consistency


class UpstreamFileSource(Source):
    BST_FORMAT_VERSION = 0

    def configure(self, node):
        self.node_validate(node, ['path', 'ref'] + Source.COMMON_CONFIG_KEYS)
        self.path = self.node_get_member(node, str, 'path')
        self.ref = self.node_get_member(node, str, 'ref', None)

    def preflight(self):
        pass

    def get_unique_key(self):
        return [os.path.basename(self.path), self.ref]

    def _mirror(self):
        return os.path.join(self.get_mirror_directory(), self.ref)

    def get_consistency(self):
        if self.ref is None:
            return Consistency.INCONSISTENT
        if os.path.isfile(self._mirror()):
            return Consistency.CACHED
        return Consistency.RESOLVED

    def load_ref(self, node):
        self.ref = self.node_get_member(node, str, 'ref', None)

    def get_ref(self):
        return self.ref

    def set_ref(self, ref, node):
        node['ref'] = self.ref = ref

    def _upstream(self):
        return os.path.join(self.get_project_directory(), self.path)

    def _sha256(self, path):
        with open(path, 'rb') as f:
            return hashlib.sha256(f.read()).hexdigest()

    def track(self):
        return self._sha256(self._upstream())

    def fetch(self):
        found = self._sha256(self._upstream())
        if found != self.ref:
            raise SourceError('{}: {} has sha256 {}, not the ref {}: track it again'
                              .format(self, self.path, found, self.ref))
        shutil.copyfile(self._upstream(), self._mirror())

    def stage(self, directory):
        shutil.copyfile(self._mirror(), os.path.join(directory, os.path.basename(self.path)))


def setup():
    return UpstreamFileSource
