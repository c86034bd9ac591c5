// What the agent is told about images: where to save them so they reach the person, and
// how to take a screenshot with the Playwright CLI and the system's Chromium.

export function imagesSystemPrompt(imagesDir: string): string {
  return [
    'You are answering a person over a chat app; they see your final text and any images.',
    `To show an image (a screenshot, a chart), save it as a PNG or JPEG file in ${imagesDir}`,
    'with a new, descriptive file name; every image saved there during this request is sent.',
    'To screenshot a web page, run:',
    `  playwright screenshot --browser chromium --full-page URL ${imagesDir}/NAME.png`,
    '(the Playwright CLI is on PATH and uses the system Chromium; do not install browsers).',
  ].join('\n');
}
