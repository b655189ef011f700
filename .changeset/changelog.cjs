// @ts-check
/**
 * How a pending changeset becomes a CHANGELOG entry (`.changeset/config.json` names this file). Each entry is the
 * changeset's text as it was written for the reader, with no commit hash in front of it; and no "Updated
 * dependencies" list: every `@keepalive/*` package is released together (one `fixed` group), so a dependency bump
 * between them says nothing a reader needs.
 *
 * @type {import('@changesets/types').ChangelogFunctions}
 */
const changelog = {
  async getReleaseLine(changeset) {
    const [first = '', ...rest] = changeset.summary.split('\n').map((line) => line.trimEnd());
    return [`- ${first}`, ...rest.map((line) => (line === '' ? '' : `  ${line}`))].join('\n');
  },
  async getDependencyReleaseLine() {
    return '';
  },
};

module.exports = changelog;
