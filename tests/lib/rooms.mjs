// Rooms in the page, for the e2e tests (tests/e2e/rooms*.test.mjs): making a room through its
// form, opening one from the sidebar, and reading its "Room members" list.

/** alice's "New room" form: the name, the members ticked by username, "Create room"; the room opens. */
export async function createRoom(p, roomName, memberNames, timeout) {
  await p.page.getByRole('button', { name: 'New room' }).click();
  await p.page.getByLabel('Room name').fill(roomName);
  const pick = p.page.getByRole('group', { name: 'Members' });
  for (const n of memberNames) await pick.getByRole('checkbox', { name: n }).check();
  await p.page.getByRole('button', { name: 'Create room' }).click();
  await p.page.locator('#room').waitFor({ state: 'visible', timeout });
}

/** Opens a room from the "Rooms" list once it is there. */
export async function openRoomOf(p, roomName, timeout) {
  const button = p.page.getByRole('list', { name: 'Rooms' }).getByRole('button').filter({ hasText: roomName });
  await button.first().waitFor({ state: 'visible', timeout });
  await button.first().click();
  await p.page.locator('#room').waitFor({ state: 'visible', timeout });
}

/** The text of each item of the open room's "Room members" list. */
export function members(p) {
  return p.page.getByRole('list', { name: 'Room members' }).getByRole('listitem').allTextContents();
}
