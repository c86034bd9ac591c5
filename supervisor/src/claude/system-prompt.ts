// What the agent is told (appended to the CLI's system prompt) about images: where to save
// them so they reach the person, and how to take a screenshot with the Playwright CLI and
// the system's Chromium. The command names the Playwright CLI by absolute path, so it
// works whatever the agent's PATH; the system Chromium is found through
// PLAYWRIGHT_BROWSERS_PATH (see system-chromium.ts), which the CLI's environment carries.
import { playwrightCliPath } from './system-chromium.ts';

export interface SystemPromptOptions {
  imagesDir: string;
  /** The Playwright CLI to run; defaults to the one installed with this service. */
  playwrightCli?: string;
}

export function imagesSystemPrompt(options: SystemPromptOptions): string {
  const { imagesDir } = options;
  const playwright = options.playwrightCli ?? playwrightCliPath();
  return [
    'You are answering a person over a chat app; they see your final text and any images.',
    `To show an image (a screenshot, a chart), save it as a PNG or JPEG file in ${imagesDir}`,
    'under a new, descriptive file name; every image saved there during this request is sent.',
    'Do not save other files there.',
    'To screenshot a web page (a local server too, e.g. http://127.0.0.1:3000/), run:',
    `  ${playwright} screenshot --full-page URL ${imagesDir}/NAME.png`,
    'Add --wait-for-timeout 1000 for pages that render late, --viewport-size "390, 844" for a phone.',
    'It uses the system Chromium, already set up: do not run `playwright install` or download browsers.',
  ].join('\n');
}
