// Photos are compressed on the phone before they wait in the queue or travel: at most
// 1600 px on the long side, JPEG quality 0.8 (a 12 MP camera photo of 4–6 MB becomes
// ~300 KB; the events service takes up to 5 MiB). An image the browser cannot decode is
// kept as it is (the server checks the bytes).
const MAX_SIDE = 1600

export async function compress(file) {
  let bitmap
  try {
    bitmap = await createImageBitmap(file)
  } catch {
    return file
  }
  const scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height))
  const canvas = document.createElement('canvas')
  canvas.width = Math.round(bitmap.width * scale)
  canvas.height = Math.round(bitmap.height * scale)
  canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height)
  bitmap.close?.()
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.8))
  return blob && blob.size < file.size ? blob : file
}
